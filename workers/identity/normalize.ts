import { emailProblem, IDENTIFIER_TYPE_PATTERN, type Identifier, MAX_IDENTIFIER_LENGTH } from "@tessera/protocol";
// The `min` metadata (country codes, lengths and prefixes; no per-type digit patterns) is enough for E.164. It costs
// the Worker about 120 KB minified, 29 KB gzipped (178 KiB of wrangler's unminified 1.8 MiB upload); `max` would
// cost 194 KB, 49 KB gzipped, for validation of allocated ranges that identity does not want (see normalizePhone).
import { isSupportedCountry, parsePhoneNumberFromString } from "libphonenumber-js/min";

export type NormalizedIdentifier = { ok: true; identifier: Identifier } | { ok: false; reason: string };

/** What normalisation needs from the workspace's identity rules. */
export interface NormalizeOptions {
  /** ISO 3166-1 alpha-2 country of phone numbers written without a country code (`020 7946 0000` with `GB`). */
  defaultCountry?: string | null;
}

/**
 * One identifier in its canonical form, so the same person's value always hits the same D1 row:
 * trimmed; emails lowercased and checked to be addresses ({@link emailProblem}); phones in E.164
 * ({@link normalizePhone}). A value that cannot be put in that form is refused with the reason: it may stay a
 * trait, never an identifier. Workspace rules (blocked values) are applied separately, by `extractIdentifiers`.
 *
 * @example normalizeIdentifier("email", " Jane@Example.com ") // { ok: true, identifier: { type: "email", value: "jane@example.com" } }
 * @example normalizeIdentifier("phone", "020 7946 0000", { defaultCountry: "GB" }) // { ok: true, identifier: { type: "phone", value: "+442079460000" } }
 */
export function normalizeIdentifier(type: string, raw: unknown, options: NormalizeOptions = {}): NormalizedIdentifier {
  if (!IDENTIFIER_TYPE_PATTERN.test(type))
    return { ok: false, reason: `identifier type ${JSON.stringify(type)} is invalid` };
  if (typeof raw === "number" && Number.isFinite(raw)) raw = String(raw);
  if (typeof raw !== "string") return { ok: false, reason: `${type} must be a string` };
  let value = raw.trim();
  if (value === "") return { ok: false, reason: `${type} is empty` };
  if (value.length > MAX_IDENTIFIER_LENGTH)
    return { ok: false, reason: `${type} is longer than ${MAX_IDENTIFIER_LENGTH} characters` };
  if (type === "email") {
    value = value.normalize("NFC").toLowerCase();
    const problem = emailProblem(value);
    if (problem) return { ok: false, reason: `email is not an address (${problem})` };
  } else if (type === "phone") {
    const phone = normalizePhone(value, options.defaultCountry);
    if (!phone.ok) return phone;
    value = phone.e164;
  }
  return { ok: true, identifier: { type, value } };
}

/** A leading `00` is the international prefix almost everywhere (and a trunk prefix nowhere): read it as `+`. */
const INTERNATIONAL_00 = /^00(?=\s*[1-9])/;

/**
 * `value` in E.164 (`+442079460000`), or why it cannot be. The country comes from the number (`+44 …`, `0044 …`) or,
 * for a national number (`020 7946 0000`), from the workspace's default country: without one, a national number has
 * no E.164 form and is refused rather than kept as bare digits, which the same number written `+44 …` would never
 * match. The whole value must be the number (formatting aside), of a possible length for its country: the `min`
 * metadata checks lengths, not allocated ranges, which change over time. An extension stays, in RFC 3966's form
 * (`+14155550100;ext=5`): the coworkers behind one switchboard number are different people.
 *
 * @example normalizePhone("+44 (0)20 7946 0000") // { ok: true, e164: "+442079460000" }
 * @example normalizePhone("020 7946 0000", "GB") // { ok: true, e164: "+442079460000" }
 * @example normalizePhone("020 7946 0000") // { ok: false, reason: "phone has no country code (+…) and …" }
 */
export function normalizePhone(
  value: string,
  defaultCountry?: string | null,
): { ok: true; e164: string } | { ok: false; reason: string } {
  const text = value.replace(INTERNATIONAL_00, "+");
  const country = defaultCountry && isSupportedCountry(defaultCountry) ? defaultCountry : undefined;
  const parsed = parsePhoneNumberFromString(text, { defaultCountry: country, extract: false });
  if (parsed?.isPossible())
    return { ok: true, e164: parsed.ext ? `${parsed.number};ext=${parsed.ext}` : parsed.number };
  if (parsed) return { ok: false, reason: `phone is not a possible number for +${parsed.countryCallingCode}` };
  if (!/\d/.test(text)) return { ok: false, reason: "phone is not a phone number" };
  if (!text.startsWith("+") && !country) {
    const why = defaultCountry
      ? `the workspace's default_country ${defaultCountry} has no phone numbering plan`
      : "the workspace's identity rules set no default_country";
    return { ok: false, reason: `phone has no country code (+…) and ${why}` };
  }
  return { ok: false, reason: `phone is not a phone number${country ? ` in ${country}` : ""}` };
}
