import {
  blockedValueMatcher,
  DEFAULT_BLOCKED_VALUES,
  type IdentityRulesSettings,
  IdentityRulesUpdate,
} from "@tessera/protocol";
import { findIdentityRules } from "../../d1/queries/workspaces";
import { isolateCache } from "../shared/isolate-cache";

/**
 * A workspace's identity resolution rules (Segment's "Identity Resolution settings").
 * On the wire and in `workspaces.identity_rules` they are snake_case JSON (see {@link identityRulesToJson}).
 */
export interface IdentityRules {
  /** Values that are never identifiers (`null`, `undefined`, `-1`, …), as regular expression sources, matched case-insensitively. */
  blockedValues: string[];
  /** How many identifiers of a type one profile may hold (`user_id`: 1). Types not listed get `defaultLimit`. */
  limits: Record<string, number>;
  /** The limit for every type `limits` does not name (Segment: 5). */
  defaultLimit: number;
  /**
   * Identifier types, most trusted first; a message that would break a limit drops the lower ones.
   * Types not listed rank after every listed type, in alphabetical order (stable across messages).
   */
  priority: string[];
  /** Trait keys promoted to identifiers of the same name (e.g. `loyalty_id`). */
  promotedTraits: string[];
  /** A merge that would give the survivor more merges than this is refused (the identifier is dropped). */
  maxMergesPerProfile: number;
  /** An attach or merge that would give a profile more identifiers than this is refused. */
  maxIdentifiersPerProfile: number;
  /**
   * ISO 3166-1 alpha-2 country of phone numbers written without a country code, so `020 7946 0000` (GB) and
   * `+44 20 7946 0000` are one identifier. Null: such numbers have no E.164 form and are not identifiers.
   */
  defaultCountry: string | null;
}

/** Segment's defaults: junk values blocked, one user id per profile, five of anything else. */
export const DEFAULT_IDENTITY_RULES: Readonly<IdentityRules> = Object.freeze({
  blockedValues: [...DEFAULT_BLOCKED_VALUES],
  limits: { user_id: 1 },
  defaultLimit: 5,
  priority: ["user_id", "email", "phone", "device_id", "anonymous_id"],
  promotedTraits: [],
  maxMergesPerProfile: 100,
  maxIdentifiersPerProfile: 1000,
  defaultCountry: null,
});

/** The limit one profile may hold of `type` (its own entry: a type may be named `constructor`). */
export function limitFor(rules: IdentityRules, type: string): number {
  return Object.hasOwn(rules.limits, type) ? rules.limits[type] : rules.defaultLimit;
}

/** Sort key of a type: its index in `priority`, unlisted types after all listed ones. */
export function priorityRank(rules: IdentityRules, type: string): number {
  const i = rules.priority.indexOf(type);
  return i === -1 ? rules.priority.length : i;
}

/** Identifiers in the order rules decide them: by priority, then (for unlisted types) by type name, then input order. */
export function byPriority<T extends { type: string }>(rules: IdentityRules, ids: readonly T[]): T[] {
  return ids
    .map((id, index) => ({ id, index, rank: priorityRank(rules, id.type) }))
    .sort(
      (a, b) => a.rank - b.rank || (a.id.type < b.id.type ? -1 : a.id.type > b.id.type ? 1 : 0) || a.index - b.index,
    )
    .map((x) => x.id);
}

const matchers = new WeakMap<IdentityRules, (value: string) => string | null>();

/**
 * The blocked-value pattern `value` matches, or null. Patterns are compiled once per rules object; a workspace's own
 * patterns match in linear time, so none can stall ingestion. A stored pattern saved before RE2 syntax was required
 * (a lookaround, say) blocks nothing rather than failing ingestion.
 */
export function blockedBy(rules: IdentityRules, value: string): string | null {
  let matcher = matchers.get(rules);
  if (!matcher) {
    matcher = blockedValueMatcher(rules.blockedValues, (source, err) => {
      console.error(
        `blocked_values pattern /${source}/ is not RE2 syntax; ignored until the rules are saved again`,
        err,
      );
      return { test: () => false };
    });
    matchers.set(rules, matcher);
  }
  return matcher(value);
}

/** The rules as the API shows and stores them (snake_case, like every Tessera wire shape). */
export function identityRulesToJson(rules: IdentityRules): IdentityRulesSettings {
  return {
    blocked_values: [...rules.blockedValues],
    limits: { ...rules.limits },
    default_limit: rules.defaultLimit,
    priority: [...rules.priority],
    promoted_traits: [...rules.promotedTraits],
    max_merges_per_profile: rules.maxMergesPerProfile,
    max_identifiers_per_profile: rules.maxIdentifiersPerProfile,
    default_country: rules.defaultCountry,
  };
}

/**
 * Rules from a validated `IdentityRulesUpdate` (the `PUT /v1/identity-rules` body, or a stored value): fields left
 * out keep Segment's default.
 *
 * @example identityRulesFromJson({ limits: { user_id: 1, email: 2 } }) // {...DEFAULT_IDENTITY_RULES, limits}
 */
export function identityRulesFromJson(json: IdentityRulesUpdate): IdentityRules {
  const d = DEFAULT_IDENTITY_RULES;
  return {
    blockedValues: [...(json.blocked_values ?? d.blockedValues)],
    limits: { ...(json.limits ?? d.limits) },
    defaultLimit: json.default_limit ?? d.defaultLimit,
    priority: [...(json.priority ?? d.priority)],
    promotedTraits: [...(json.promoted_traits ?? d.promotedTraits)],
    maxMergesPerProfile: json.max_merges_per_profile ?? d.maxMergesPerProfile,
    maxIdentifiersPerProfile: json.max_identifiers_per_profile ?? d.maxIdentifiersPerProfile,
    defaultCountry: json.default_country ?? d.defaultCountry,
  };
}

/**
 * Rules from a `PUT /v1/identity-rules` body. A `limits` map is laid over Segment's per-type defaults rather than
 * replacing them: `{"limits":{"email":2}}` keeps `user_id` at 1, where replacing the map would give it
 * `default_limit` (5) and let two users who share a device merge into one profile. Raising `user_id`'s limit means
 * naming it. (Stored rules are read as stored: a workspace's limits never change under it on deploy.)
 */
export function identityRulesFromUpdate(update: IdentityRulesUpdate): IdentityRules {
  const rules = identityRulesFromJson(update);
  return { ...rules, limits: { ...DEFAULT_IDENTITY_RULES.limits, ...rules.limits } };
}

/** Rules change rarely and are read on every ingestion batch, so each isolate keeps them a while. */
const rulesCache = isolateCache(async (workspaceId, db: D1Database) => {
  const row = await findIdentityRules(db, workspaceId);
  return row?.identityRules ? rulesFromStored(row.identityRules) : DEFAULT_IDENTITY_RULES;
});

/**
 * The workspace's rules (`workspaces.identity_rules`; null or unreadable means Segment's defaults), cached in
 * this isolate (`isolateCache`): other isolates pick up a change within `ISOLATE_CACHE_MS`.
 */
export async function loadIdentityRules(db: D1Database, workspaceId: string): Promise<IdentityRules> {
  return (await rulesCache.fetch(workspaceId, { context: db })) ?? DEFAULT_IDENTITY_RULES;
}

/** Drop this isolate's cached rules for a workspace (after `PUT /v1/identity-rules`). */
export function invalidateIdentityRules(workspaceId: string): void {
  rulesCache.delete(workspaceId);
}

function rulesFromStored(json: string): IdentityRules {
  try {
    const parsed = IdentityRulesUpdate.safeParse(JSON.parse(json));
    if (parsed.success) return identityRulesFromJson(parsed.data);
  } catch {
    // A stored value was validated on the way in; an unreadable one must not stop ingestion.
  }
  console.error("identity_rules: stored rules are invalid, using defaults");
  return DEFAULT_IDENTITY_RULES;
}
