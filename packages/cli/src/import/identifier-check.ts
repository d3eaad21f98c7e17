/**
 * What identity resolution will make of a message's identifiers, judged before it is sent: which values it will
 * refuse (an email that is no address, a blocked value such as user id `0`) and whether any identifier is left.
 * The collector stores a message by the identifiers left and refuses one with none; a refused email or phone next to
 * a good user id is dropped without a word, which is what the import reports instead.
 *
 * Judged by Segment's default rules (`DEFAULT_BLOCKED_VALUES`, no default phone country): the CLI cannot read a
 * workspace's own rules with a write key, and those may block more.
 */
import {
  compileSafePattern,
  DEFAULT_BLOCKED_VALUES,
  emailProblem,
  IDENTIFIER_TYPE_PATTERN,
  isPlainObject,
  MAX_IDENTIFIER_LENGTH,
} from "@tessera/protocol";

/** A value identity resolution will not use as an identifier, and why, in the collector's words. */
export interface RefusedIdentifier {
  type: string;
  value: string;
  reason: string;
}

export interface IdentifierCheck {
  /** Identifiers identity resolution will link the message by (zero: the collector refuses the message). */
  usable: number;
  refused: RefusedIdentifier[];
}

const TRUSTED: ReadonlySet<string> = new Set(DEFAULT_BLOCKED_VALUES);
const BLOCKED = DEFAULT_BLOCKED_VALUES.map((source) => ({ source, pattern: compileSafePattern(source, TRUSTED) }));

/**
 * The identifiers of a validated message, read where the Worker's `extractIdentifiers` reads them (DESIGN §4):
 * userId, anonymousId, an alias's previousId, identify traits and context.traits email and phone, context.device.id
 * and context.externalIds. A group's groupId is an attribute, never an identifier, so it is not counted.
 *
 * @example checkIdentifiers({ type: "identify", userId: "0", traits: { email: "jane@example.com" } })
 * // { usable: 1, refused: [{ type: "user_id", value: "0", reason: "user_id value is blocked by the rule /^[0-]*$/i" }] }
 */
export function checkIdentifiers(message: Readonly<Record<string, unknown>>): IdentifierCheck {
  const check: IdentifierCheck = { usable: 0, refused: [] };
  const add = (type: string, raw: unknown) => {
    if (raw === undefined || raw === null) return;
    const judged = judge(type, raw);
    if (judged.ok) check.usable++;
    else check.refused.push({ type, value: judged.value, reason: judged.reason });
  };
  const context = isPlainObject(message.context) ? message.context : undefined;
  const contextTraits = isPlainObject(context?.traits) ? context.traits : undefined;
  const traits = message.type === "identify" && isPlainObject(message.traits) ? message.traits : undefined;

  add("user_id", message.userId);
  add("anonymous_id", message.anonymousId);
  if (message.type === "alias" && typeof message.previousId === "string") {
    const previousId = message.previousId.trim();
    if (previousId !== (typeof message.userId === "string" ? message.userId.trim() : message.userId))
      add("anonymous_id", previousId);
  }
  for (const field of ["email", "phone"]) {
    add(field, traits?.[field]);
    add(field, contextTraits?.[field]);
  }
  add("device_id", isPlainObject(context?.device) ? context.device.id : undefined);
  if (Array.isArray(context?.externalIds)) {
    for (const ext of context.externalIds) {
      if (!isPlainObject(ext) || ext.id === undefined || ext.id === null) continue;
      const type = typeof ext.type === "string" ? ext.type.trim().toLowerCase() : "";
      if (IDENTIFIER_TYPE_PATTERN.test(type)) add(type, ext.id);
      else
        check.refused.push({
          type,
          value: String(ext.id),
          reason: `externalIds type ${JSON.stringify(ext.type)} is not an identifier type (lowercase letters, digits, _)`,
        });
    }
  }
  return check;
}

/**
 * The collector's reason for refusing a message whose identifiers were all refused, word for word, so that a dry
 * run's rejects read as the real run's.
 */
export function noUsableIdentifier(refused: readonly RefusedIdentifier[]): string {
  const why = refused.map((r) => `${r.type} ${JSON.stringify(r.value)}: ${r.reason}`);
  return `no usable identifier (${why.join("; ") || "none given"})`;
}

/** One refused identifier as the warnings file and the rejects file name it. */
export function refusedText(refused: RefusedIdentifier): string {
  return `${refused.type} ${JSON.stringify(refused.value)}: ${refused.reason}`;
}

type Judged = { ok: true } | { ok: false; value: string; reason: string };

/** One value as the Worker's `normalizeIdentifier` and then the default blocked values judge it. */
function judge(type: string, raw: unknown): Judged {
  const shown = typeof raw === "string" ? raw : JSON.stringify(raw);
  const refuse = (reason: string, value = shown): Judged => ({ ok: false, value, reason });
  if (typeof raw === "number" && Number.isFinite(raw)) raw = String(raw);
  if (typeof raw !== "string") return refuse(`${type} must be a string`);
  let value = raw.trim();
  if (value === "") return refuse(`${type} is empty`);
  if (value.length > MAX_IDENTIFIER_LENGTH) return refuse(`${type} is longer than ${MAX_IDENTIFIER_LENGTH} characters`);
  if (type === "email") {
    value = value.normalize("NFC").toLowerCase();
    const problem = emailProblem(value);
    if (problem) return refuse(`email is not an address (${problem})`);
  } else if (type === "phone") {
    const problem = phoneProblem(value);
    if (problem) return refuse(problem);
  }
  const blocked = BLOCKED.find((b) => b.pattern.test(value));
  if (blocked) return refuse(`${type} value is blocked by the rule /${blocked.source}/i`, value);
  return { ok: true };
}

/**
 * What can be told of a phone without the numbering plans: one written without a country code has no E.164 form
 * under the default rules (no `default_country`), so the collector will not link by it. Whether a `+…` number is a
 * possible one needs libphonenumber's metadata, which the collector has and the CLI does not carry: left to it.
 */
function phoneProblem(value: string): string | null {
  const text = value.replace(/^00(?=\s*[1-9])/, "+");
  if (!/\d/.test(text)) return "phone is not a phone number";
  if (!text.startsWith("+"))
    return "phone has no country code (+…) and the default identity rules set no default_country";
  return null;
}
