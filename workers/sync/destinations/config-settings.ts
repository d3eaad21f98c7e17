/**
 * What every destination's `validateConfig` checks alike (DESIGN §7), answered as the plugin answers:
 * `field: reason`, or null.
 *
 * A key the type does not have is refused rather than stored. Saved, a misspelled setting does nothing while its
 * default applies in its place (`statusIfNew: "pending"` subscribes new contacts without the double opt-in asked for;
 * `clientSecret` leaves every HubSpot webhook refused), and it reads back unmasked, as only known secrets are masked.
 *
 * @example
 * const HUBSPOT_SETTINGS = { access_token: true, base_url: true, client_secret: true } satisfies Settings<HubSpotConfig>;
 * settingsProblem({ access_token: "pat-…", clientSecret: "s" }, HUBSPOT_SETTINGS, "HubSpot");
 * // "clientSecret: is not a HubSpot setting"
 */

/** Every key of a type's config, each listed once: `satisfies Settings<Config>` does not compile with one left out. */
export type Settings<Config> = Record<keyof Config, true>;

/** `config: must be an object`, else the first key of `config` that is not one of `settings`, else null. */
export function settingsProblem(
  config: unknown,
  settings: Readonly<Record<string, true>>,
  vendor: string,
): string | null {
  if (typeof config !== "object" || config === null || Array.isArray(config)) return "config: must be an object";
  const unknown = Object.keys(config).find((key) => !Object.hasOwn(settings, key));
  return unknown === undefined ? null : `${unknown}: is not a ${vendor} setting`;
}

/**
 * The problem of an optional secret given as anything but a non-empty string, or null: a secret is compared as text,
 * and an empty one would read as set while nothing can be signed with it (a key sent as `null` removes it instead).
 */
export function optionalSecretProblem(config: Record<string, unknown>, field: string): string | null {
  const value = config[field];
  if (value === undefined) return null;
  if (typeof value !== "string") return `${field}: must be a string`;
  return value === "" ? `${field}: must not be empty` : null;
}
