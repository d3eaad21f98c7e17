/**
 * Which identifiers a message names, in their canonical form (DESIGN §4): one reading for the Worker's identity
 * resolution and for `tessera import`, which judges a row before sending it, so that the two cannot disagree on what a
 * value becomes or why it is refused. Its own entry point (`@tessera/protocol/message-identifiers`), not the
 * package's index: it carries libphonenumber's metadata, which the console and the SDK must not.
 */

// The `min` metadata (country codes, lengths and prefixes; no per-type digit patterns) is enough for E.164. It costs
// the Worker about 120 KB minified, 29 KB gzipped (178 KiB of wrangler's unminified 1.8 MiB upload); `max` would
// cost 194 KB, 49 KB gzipped, for validation of allocated ranges that identity does not want (see normalizePhone).
import {
  type CountryCode,
  getCountryCallingCode,
  isSupportedCountry,
  Metadata,
  type PhoneNumber,
  parseIncompletePhoneNumber,
  parsePhoneNumberFromString,
} from "libphonenumber-js/min";
import { emailProblem } from "./identifier-values";
import { IDENTIFIER_TYPE_PATTERN, type Identifier, identifierKey, isAttributeIdentifier } from "./identifiers";
import { objectOrUndefined } from "./json-object";
import { MAX_IDENTIFIER_LENGTH } from "./limits";

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

/**
 * A leading `00` is the international prefix in most countries (and a trunk prefix nowhere): read it as `+` — unless
 * it begins the default country's own, longer prefix (see {@link startsWithInternationalPrefix}).
 */
const INTERNATIONAL_00 = /^00(?=\s*[1-9])/;

/**
 * `value` in E.164 (`+442079460000`), or why it cannot be. The country comes from the number (`+44 …`, `0044 …`,
 * or the default country's own international prefix: `0011 44 …` in Australia) or, for a national number
 * (`020 7946 0000`), from the workspace's default country: without one, a national number has no E.164 form and is
 * refused rather than kept as bare digits, which the same number written `+44 …` would never match. The whole value
 * must be the number (formatting aside), of a possible length for its country: the `min` metadata checks lengths, not
 * allocated ranges, which change over time. An extension stays, in RFC 3966's form (`+14155550100;ext=5`): the
 * coworkers behind one switchboard number are different people.
 *
 * @example normalizePhone("+44 (0)20 7946 0000") // { ok: true, e164: "+442079460000" }
 * @example normalizePhone("020 7946 0000", "GB") // { ok: true, e164: "+442079460000" }
 * @example normalizePhone("009 1 415 555 0100", "CO") // { ok: true, e164: "+14155550100" }
 * @example normalizePhone("020 7946 0000") // { ok: false, reason: "phone has no country code (+…) and …" }
 */
export function normalizePhone(
  value: string,
  defaultCountry?: string | null,
): { ok: true; e164: string } | { ok: false; reason: string } {
  const text = value.replace(INTERNATIONAL_00, "+");
  const country = defaultCountry && isSupportedCountry(defaultCountry) ? defaultCountry : undefined;
  // Dialled with the default country's own prefix, the value is read as written first: libphonenumber strips that
  // prefix, and `009 1 …` from Colombia is +1, not +91. Where that prefix begins with 00 too, the `+` reading stays a
  // candidate: `0057 …` in a Colombian file more likely means +57 than Colombia's 005 to +7.
  const texts = country && startsWithInternationalPrefix(value, country) ? [...new Set([value, text])] : [text];
  const readings = texts.flatMap(
    (t) => parsePhoneNumberFromString(t, { defaultCountry: country, extract: false }) ?? [],
  );
  const parsed = country ? likeliestReading(readings, country) : readings[0];
  if (parsed?.isPossible())
    return { ok: true, e164: parsed.ext ? `${parsed.number};ext=${parsed.ext}` : parsed.number };
  if (parsed) return { ok: false, reason: `phone is not a possible number for +${parsed.countryCallingCode}` };
  if (!/\d/.test(text)) return { ok: false, reason: "phone is not a phone number" };
  if (!text.startsWith("+") && !country) {
    const why = defaultCountry
      ? `the workspace's default_country ${defaultCountry} has no phone numbering plan`
      : "the identity rules set no default_country";
    return { ok: false, reason: `phone has no country code (+…) and ${why}` };
  }
  return { ok: false, reason: `phone is not a phone number${country ? ` in ${country}` : ""}` };
}

/**
 * Whether `value` starts with `country`'s own international prefix (`011` in the US, `0011` in Australia, `010` in
 * Japan, `005`, `007` or `009` in Colombia): the one libphonenumber strips when it parses with that country. Anything
 * else starting `00` in, say, Japan is a foreign number written the common way, not one of Japan's `00…` numbers.
 */
function startsWithInternationalPrefix(value: string, country: CountryCode): boolean {
  return internationalPrefix(country)?.test(parseIncompletePhoneNumber(value)) ?? false;
}

/** Each country's international prefix as a pattern, read from the metadata once per isolate (identity's hot path). */
const internationalPrefixes = new Map<CountryCode, RegExp | null>();
function internationalPrefix(country: CountryCode): RegExp | null {
  let pattern = internationalPrefixes.get(country);
  if (pattern === undefined) {
    const metadata = new Metadata();
    metadata.selectNumberingPlan(country);
    const prefix = metadata.numberingPlan?.IDDPrefix();
    pattern = prefix ? new RegExp(`^(?:${prefix})`) : null;
    internationalPrefixes.set(country, pattern);
  }
  return pattern;
}

/**
 * The reading to keep of a value that may be meant more than one way, most likely first: a valid number in the
 * workspace's own country, then any valid number (the `min` metadata's national pattern), then one of a possible
 * length; ties go to the earlier reading. Failing all, the first, whose refusal names the country it was read for.
 */
function likeliestReading(readings: PhoneNumber[], country: CountryCode): PhoneNumber | undefined {
  const ownCode = getCountryCallingCode(country);
  return (
    readings.find((r) => r.isValid() && r.countryCallingCode === ownCode) ??
    readings.find((r) => r.isValid()) ??
    readings.find((r) => r.isPossible()) ??
    readings[0]
  );
}

/** What reading a message's identifiers needs from a workspace's identity rules. */
export interface ExtractionRules {
  /** ISO 3166-1 alpha-2 country of phone numbers written without a country code; null: such numbers are refused. */
  defaultCountry: string | null;
  /** Trait keys promoted to identifiers of the same name (e.g. `loyalty_id`). */
  promotedTraits: readonly string[];
  /** The blocked-value pattern a normalised value matches (it is then never an identifier), or null. */
  blockedBy(value: string): string | null;
}

/** The fields identifiers are read from, as a validated message (or a row about to be sent as one) has them. */
export interface IdentifiedMessage {
  type: string;
  userId?: unknown;
  anonymousId?: unknown;
  previousId?: unknown;
  groupId?: unknown;
  traits?: unknown;
  context?: unknown;
}

/** What one message says about who sent it. */
export interface ExtractedIdentifiers {
  /** Matching keys, normalised and deduplicated: these are claimed in D1 and may link profiles. */
  identifiers: Identifier[];
  /** Values refused, with why (junk values, malformed emails and phones, bad externalId types). Never linked. */
  blocked: Array<{ identifier: Identifier; reason: string }>;
  /**
   * Descriptive identifiers that must never be matching keys. Today: `group_id` from `group` calls — a company,
   * which many people share, so matching on it would merge a whole company into one person. The profile may
   * show them; they are never claimed in D1 and never cause merges.
   */
  attributes: Identifier[];
  /**
   * `alias` only: the raw `previousId`. It is in `identifiers` as an `anonymous_id` (Segment's usual meaning:
   * the visitor before they logged in); pass it on in `ResolveInput.previousId` so the store can link the
   * existing `user_id` instead when a profile already owns this value as a user id.
   */
  previousId?: string;
}

/**
 * The identifiers of one accepted message, under a workspace's rules.
 *
 * Sources: `userId` → user_id, `anonymousId` → anonymous_id, `context.device.id` → device_id,
 * `traits.email|phone` (identify only: a group's traits describe the company) and `context.traits.email|phone`,
 * `context.externalIds[]` (`{id, type}`, type lowercased), the workspace's promoted trait keys, and for alias
 * messages `previousId` (as anonymous_id, see {@link ExtractedIdentifiers.previousId}). Values with no canonical
 * form (an email that is no address, a phone with no E.164 form under the workspace's `defaultCountry`) land in
 * `blocked` with the reason; the traits that carried them are stored as sent.
 *
 * @example extractIdentifiers(msg, { defaultCountry: null, promotedTraits: [], blockedBy: () => null }).identifiers // [{type:"user_id",value:"42"}, {type:"email",value:"jane@example.com"}]
 */
export function extractIdentifiers(msg: IdentifiedMessage, rules: ExtractionRules): ExtractedIdentifiers {
  const out: ExtractedIdentifiers = { identifiers: [], blocked: [], attributes: [] };
  const seen = new Set<string>();
  const add = (type: string, raw: unknown) => {
    if (raw === undefined || raw === null) return;
    const n = normalizeIdentifier(type, raw, { defaultCountry: rules.defaultCountry });
    if (!n.ok) {
      out.blocked.push({
        identifier: { type, value: typeof raw === "string" ? raw : JSON.stringify(raw) },
        reason: n.reason,
      });
      return;
    }
    const pattern = rules.blockedBy(n.identifier.value);
    if (pattern !== null) {
      out.blocked.push({ identifier: n.identifier, reason: `${type} value is blocked by the rule /${pattern}/i` });
      return;
    }
    const key = identifierKey(n.identifier);
    if (seen.has(key)) return;
    seen.add(key);
    if (isAttributeIdentifier(type)) out.attributes.push(n.identifier);
    else out.identifiers.push(n.identifier);
  };

  const context = objectOrUndefined(msg.context);
  const contextTraits = objectOrUndefined(context?.traits);
  const traits = msg.type === "identify" ? objectOrUndefined(msg.traits) : undefined;

  add("user_id", msg.userId);
  add("anonymous_id", msg.anonymousId);
  if (msg.type === "alias" && typeof msg.previousId === "string") {
    const previousId = msg.previousId.trim();
    // previousId equal to userId links nothing new; otherwise it names the same person's earlier identity.
    if (previousId !== (typeof msg.userId === "string" ? msg.userId.trim() : msg.userId)) {
      const before = out.identifiers.length;
      add("anonymous_id", previousId);
      if (out.identifiers.length > before) out.previousId = previousId;
    }
  }
  for (const field of ["email", "phone"]) {
    add(field, traits?.[field]);
    add(field, contextTraits?.[field]);
  }
  add("device_id", objectOrUndefined(context?.device)?.id);
  const externalIds = context?.externalIds;
  if (Array.isArray(externalIds)) {
    for (const ext of externalIds) {
      const e = objectOrUndefined(ext);
      if (!e || e.id === undefined || e.id === null) continue;
      const type = typeof e.type === "string" ? e.type.trim().toLowerCase() : "";
      if (!IDENTIFIER_TYPE_PATTERN.test(type)) {
        out.blocked.push({
          identifier: { type, value: String(e.id) },
          reason: `externalIds type ${JSON.stringify(e.type)} is not an identifier type (lowercase letters, digits, _)`,
        });
        continue;
      }
      add(type, e.id);
    }
  }
  for (const key of rules.promotedTraits) {
    add(key, traits?.[key]);
    add(key, contextTraits?.[key]);
  }
  if (msg.type === "group") add("group_id", msg.groupId);
  return out;
}
