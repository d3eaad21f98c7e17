/**
 * Per-message validation of the Segment Spec, shared by the collector and anything else that accepts messages.
 * Pure: no I/O, no clock unless `now` is left out. Failures are values with a reason a developer can act on.
 */
import {
  MAX_EVENT_NAME_LENGTH,
  MAX_FUTURE_SKEW_MS,
  MAX_IDENTIFIER_LENGTH,
  MAX_MESSAGE_BYTES,
  MAX_PROPERTY_DEPTH,
} from "./limits";
import { type JsonObject, MESSAGE_TYPES, type Message, type MessageType } from "./messages";

export type ValidationResult = { ok: true; message: Message } | { ok: false; error: string };

export interface ValidateOptions {
  /** Server clock in epoch ms (default `Date.now()`), for the far-future check. */
  now?: number;
  /** The batch envelope's `sentAt`, used when the message has none (clock-skew correction). */
  batchSentAt?: string;
}

/** Keys that would reach an object's prototype if a later merge copied them by assignment. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

// C0/C1 controls, and UTF-16 halves without their partner (they are not characters and break UTF-8 storage).
const UNSAFE_ID_CHARS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// ISO-8601 date, or date-time with optional seconds, fraction and zone (what every Segment library sends).
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
const OBJECT_FIELDS = ["properties", "traits", "context", "integrations"] as const;
const STRING_FIELDS = ["name", "category"] as const;
const TIME_FIELDS = ["timestamp", "originalTimestamp", "sentAt"] as const;

/** A JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Epoch ms of an ISO-8601 string, or null when it is not one or names no real instant. */
export function parseIsoTimestamp(value: string): number | null {
  if (!ISO_8601.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * Walks a JSON tree once: the first forbidden key or nesting past {@link MAX_PROPERTY_DEPTH}, as a reason, or null.
 * @example inspectTree({ a: { __proto__: 1 } }, "properties") // 'key "__proto__" is not allowed (at properties.a)'
 */
export function inspectTree(value: unknown, path: string): string | null {
  return walk(value, path, 1, { units: 0 });
}

/**
 * The tree check, also adding to `size.units` the JSON text length the value would have without escapes:
 * a lower bound of its UTF-8 size, and at most 6× below it (`\uXXXX`), so most messages need no serialising.
 */
function walk(value: unknown, path: string, depth: number, size: { units: number }): string | null {
  if (typeof value === "string") {
    size.units += value.length + 2;
    return null;
  }
  if (typeof value !== "object" || value === null) {
    size.units += String(value).length;
    return null;
  }
  if (depth > MAX_PROPERTY_DEPTH) return `${path} nests deeper than ${MAX_PROPERTY_DEPTH} levels`;
  if (Array.isArray(value)) {
    size.units += 1 + Math.max(1, value.length);
    for (let i = 0; i < value.length; i++) {
      const reason = walk(value[i], `${path}[${i}]`, depth + 1, size);
      if (reason) return reason;
    }
    return null;
  }
  const keys = Object.keys(value);
  size.units += 1 + Math.max(1, keys.length);
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key)) return `key "${key}" is not allowed (at ${path})`;
    size.units += key.length + 3;
    const reason = walk((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, size);
    if (reason) return reason;
  }
  return null;
}

const EMPTY = (field: string) => `${field} must not be empty`;

/** Ids may arrive as numbers (Segment coerces them); anything else but a clean, bounded string is refused. */
function idField(msg: Record<string, unknown>, field: string): { value?: string; error?: string } {
  const raw = msg[field];
  if (raw === undefined || raw === null) return {};
  let value: string;
  if (typeof raw === "string") value = raw;
  else if (typeof raw === "number" && Number.isFinite(raw)) value = String(raw);
  else return { error: `${field} must be a string or a number, got ${describe(raw)}` };
  if (value.trim() === "") return { error: EMPTY(field) };
  if (value.length > MAX_IDENTIFIER_LENGTH)
    return { error: `${field} is longer than ${MAX_IDENTIFIER_LENGTH} characters` };
  if (UNSAFE_ID_CHARS.test(value)) return { error: `${field} contains a control character or a broken surrogate` };
  return { value };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function utf8Length(text: string): number {
  // Every UTF-16 unit is at most 3 UTF-8 bytes: short messages need no counting at all.
  if (text.length * 3 <= MAX_MESSAGE_BYTES) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A surrogate pair is 2 units and 4 bytes, so each half adds one.
    if (code >= 0xd800 && code <= 0xdfff) bytes += 1;
    else if (code >= 0x800) bytes += 2;
    else if (code >= 0x80) bytes += 1;
  }
  return bytes;
}

/**
 * Validates one raw message of a batch and returns a copy with ids coerced to strings and `null` optional
 * fields dropped, or the first problem found. `index` only makes the reason easier to find.
 *
 * @example
 * validateMessage({ type: "track", event: "Signed Up", userId: 42 }, 0)
 * // { ok: true, message: { type: "track", event: "Signed Up", userId: "42" } }
 */
export function validateMessage(raw: unknown, index: number, options: ValidateOptions = {}): ValidationResult {
  const fail = (error: string): ValidationResult => ({ ok: false, error: `batch[${index}]: ${error}` });
  if (!isPlainObject(raw)) return fail(`a message must be a JSON object, got ${describe(raw)}`);
  const msg: Record<string, unknown> = { ...raw };
  // A credential is never stored with the event it authorised.
  delete msg.writeKey;

  const type = msg.type;
  if (typeof type !== "string") return fail(`type is required (one of ${MESSAGE_TYPES.join(", ")})`);
  if (!MESSAGE_TYPES.includes(type as MessageType)) {
    return fail(`unknown type "${type.slice(0, 40)}" (expected one of ${MESSAGE_TYPES.join(", ")})`);
  }

  let emptyId: string | undefined;
  for (const field of ["userId", "anonymousId"] as const) {
    const id = idField(msg, field);
    // Some clients send `userId: ""` before identify; that is "no user id", fine while the other id is there.
    if (id.error === EMPTY(field)) emptyId = id.error;
    else if (id.error) return fail(id.error);
    if (id.value === undefined) delete msg[field];
    else msg[field] = id.value;
  }
  if (msg.userId === undefined && msg.anonymousId === undefined)
    return fail(emptyId ?? "userId or anonymousId is required");

  if (msg.messageId !== undefined && msg.messageId !== null) {
    if (typeof msg.messageId !== "string") return fail(`messageId must be a string, got ${describe(msg.messageId)}`);
    const id = idField(msg, "messageId");
    if (id.error) return fail(id.error);
  } else delete msg.messageId;

  if (type === "track") {
    if (typeof msg.event !== "string") return fail(`track needs an event name (a string), got ${describe(msg.event)}`);
    if (msg.event.trim() === "") return fail("event must not be empty");
    if (msg.event.length > MAX_EVENT_NAME_LENGTH)
      return fail(`event is longer than ${MAX_EVENT_NAME_LENGTH} characters`);
    if (UNSAFE_ID_CHARS.test(msg.event)) return fail("event contains a control character or a broken surrogate");
  }
  for (const [needed, field] of [
    ["alias", "previousId"],
    ["group", "groupId"],
  ] as const) {
    if (type !== needed && msg[field] === undefined) continue;
    const id = idField(msg, field);
    if (id.error) return fail(id.error);
    if (id.value === undefined) {
      if (type === needed) return fail(`${type} needs ${field}`);
      delete msg[field];
    } else msg[field] = id.value;
  }

  for (const field of OBJECT_FIELDS) {
    if (msg[field] === null) delete msg[field];
    else if (msg[field] !== undefined && !isPlainObject(msg[field])) {
      return fail(`${field} must be an object, got ${describe(msg[field])}`);
    }
  }
  for (const field of STRING_FIELDS) {
    if (msg[field] === null) delete msg[field];
    else if (msg[field] !== undefined && typeof msg[field] !== "string") {
      return fail(`${field} must be a string, got ${describe(msg[field])}`);
    }
  }
  const contextError = checkContext(msg.context as JsonObject | undefined);
  if (contextError) return fail(contextError);

  const times: Partial<Record<(typeof TIME_FIELDS)[number], number>> = {};
  for (const field of TIME_FIELDS) {
    const value = msg[field];
    if (value === null) delete msg[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") return fail(`${field} must be an ISO-8601 string, got ${describe(value)}`);
    const ms = parseIsoTimestamp(value);
    if (ms === null) return fail(`${field} "${value.slice(0, 40)}" is not an ISO-8601 timestamp`);
    times[field] = ms;
  }
  const eventAt = times.originalTimestamp ?? times.timestamp;
  if (eventAt !== undefined) {
    const now = options.now ?? Date.now();
    const sentAt = times.sentAt ?? (options.batchSentAt ? parseIsoTimestamp(options.batchSentAt) : null);
    // With sentAt the stored time is corrected for the client's skew, so only that corrected time must be sane.
    const corrected = sentAt != null ? now - (sentAt - eventAt) : eventAt;
    if (corrected > now + MAX_FUTURE_SKEW_MS) return fail("timestamp is more than 24 hours in the future");
  }

  const size = { units: 0 };
  const treeError = walk(msg, "message", 1, size);
  if (treeError) return fail(treeError);
  // Small messages (almost all) are provably under the limit without being serialised.
  if (size.units * 6 > MAX_MESSAGE_BYTES) {
    const bytes = size.units > MAX_MESSAGE_BYTES ? size.units : utf8Length(JSON.stringify(msg));
    if (bytes > MAX_MESSAGE_BYTES)
      return fail(`message is over the ${MAX_MESSAGE_BYTES}-byte limit (${bytes} bytes or more)`);
  }
  return { ok: true, message: msg as unknown as Message };
}

/** The parts of `context` that identity resolution reads must have the shapes it expects. */
function checkContext(context: JsonObject | undefined): string | null {
  if (!context) return null;
  if (context.traits != null && !isPlainObject(context.traits)) {
    return `context.traits must be an object, got ${describe(context.traits)}`;
  }
  if (context.device != null && !isPlainObject(context.device)) {
    return `context.device must be an object, got ${describe(context.device)}`;
  }
  const externalIds = context.externalIds;
  if (externalIds == null) return null;
  if (!Array.isArray(externalIds)) return `context.externalIds must be an array, got ${describe(externalIds)}`;
  for (const [i, entry] of externalIds.entries()) {
    if (!isPlainObject(entry) || typeof entry.id !== "string" || typeof entry.type !== "string") {
      return `context.externalIds[${i}] must be an object with string id and type`;
    }
  }
  return null;
}
