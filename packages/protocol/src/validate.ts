/**
 * Per-message validation of the Segment Spec, shared by the collector and anything else that accepts messages.
 * The message schemas (`messages.ts`) decide what is valid and say why not; this adds what a schema cannot know
 * (the server clock, the batch's `sentAt`) and the tree walk. Pure: no I/O, no clock unless `now` is left out.
 * Failures are values with a reason a developer can act on.
 */
import type { z } from "zod";
import { isPlainObject } from "./json-object";
import { type TreeSize, utf8Length, walk } from "./json-tree";
import { MAX_FUTURE_SKEW_MS, MAX_MESSAGE_BYTES } from "./limits";
import { contextReason, isBlank } from "./message-fields";
import { Message } from "./messages";
import { parseIsoTimestamp, storedEventTime } from "./timestamps";

export { isPlainObject } from "./json-object";
export { FORBIDDEN_KEYS, inspectTree } from "./json-tree";
export { type MessageTimes, parseIsoTimestamp, storedEventTime } from "./timestamps";

export type ValidationResult = { ok: true; message: Message } | { ok: false; error: string };

export interface ValidateOptions {
  /** Server clock in epoch ms (default `Date.now()`), for the far-future check. */
  now?: number;
  /** The batch envelope's `sentAt`, used when the message has none (clock-skew correction). */
  batchSentAt?: string;
}

/**
 * Which reason wins when a message has several: the order clients have always seen. Fields rank by this list
 * (the message schemas' key order), with the two rules that span fields slotted in: the id rule (an issue on the
 * message itself, path `[]`) after both ids, and `context`'s inner shapes (`context.traits`…) after `category`.
 */
const REASON_ORDER = [
  "type",
  "userId",
  "anonymousId",
  "",
  "messageId",
  "event",
  "previousId",
  "groupId",
  "properties",
  "traits",
  "context",
  "integrations",
  "name",
  "category",
  "context.",
  "timestamp",
  "originalTimestamp",
  "sentAt",
];
/** Keys the schemas know; `null` there means "not set" (Segment libraries send `userId: null`). */
const NULLABLE_KEYS: ReadonlySet<string> = new Set(
  REASON_ORDER.filter((key) => key !== "" && key !== "type" && key !== "event" && !key.endsWith(".")),
);
/** Ids a client may send as numbers: Segment reads them as text. */
const NUMERIC_IDS: ReadonlySet<string> = new Set(["userId", "anonymousId", "previousId", "groupId"]);

function rank(issue: z.core.$ZodIssue): number {
  const [field] = issue.path;
  const slot = field === undefined ? "" : field === "context" && issue.path.length > 1 ? "context." : String(field);
  const at = REASON_ORDER.indexOf(slot);
  return at < 0 ? REASON_ORDER.length : at;
}

function firstReason(issues: readonly z.core.$ZodIssue[]): string {
  let first = issues[0];
  for (const issue of issues) if (rank(issue) < rank(first)) first = issue;
  return first.message;
}

/**
 * A client's message as {@link Message} expects it, which is Segment's leniency: a copy of the top level (the input
 * is never modified) without `writeKey` (a credential is never stored with the event it authorised), without
 * `null` known fields, with finite numeric ids as text, and without a blank id next to a real one (clients send
 * `userId: ""` before identify). Anything else is left for the schema to judge.
 */
function canonical(raw: unknown): unknown {
  if (!isPlainObject(raw)) return raw;
  const dropUserId = isBlank(raw.userId) && isUsableId(raw.anonymousId);
  const dropAnonymousId = isBlank(raw.anonymousId) && isUsableId(raw.userId);
  // Built key by key rather than spread-then-delete: deleting turns the copy into a slow dictionary object.
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    if (key === "writeKey" || (value == null && NULLABLE_KEYS.has(key))) continue;
    if ((key === "userId" && dropUserId) || (key === "anonymousId" && dropAnonymousId)) continue;
    if (key === "__proto__") {
      // Kept as a plain key (assignment would set the copy's prototype) for the tree walk to refuse.
      Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
    } else if (typeof value === "number" && NUMERIC_IDS.has(key) && Number.isFinite(value)) {
      copy[key] = String(value);
    } else copy[key] = value;
  }
  return copy;
}

/**
 * The id field holding an integer JSON could not carry exactly, if any: `9007199254740993` parses as `…992`, so it
 * would silently name someone else. Such ids must arrive as strings.
 */
function inexactNumericId(raw: unknown): string | undefined {
  if (!isPlainObject(raw)) return undefined;
  for (const key of NUMERIC_IDS) {
    const value = raw[key];
    if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) return key;
  }
  return undefined;
}

const isUsableId = (id: unknown): boolean =>
  (typeof id === "string" && !isBlank(id)) || (typeof id === "number" && Number.isFinite(id));

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
  const inexact = inexactNumericId(raw);
  if (inexact) return fail(`${inexact} is a number too large to keep exactly (beyond 2^53); send it as a string`);
  const input = canonical(raw);
  const parsed = Message.safeParse(input);
  if (!parsed.success) return fail(firstReason(parsed.error.issues));
  // A fresh object: the schema copies the top level (never the nested objects, which the walk below checks).
  const message = parsed.data;

  // The time the message will be stored under (with sentAt, corrected for the client's skew) must be sane.
  const now = options.now ?? Date.now();
  const batchSentAt =
    options.batchSentAt !== undefined && parseIsoTimestamp(options.batchSentAt) !== null
      ? options.batchSentAt
      : undefined;
  if (storedEventTime(message, batchSentAt, now) > now + MAX_FUTURE_SKEW_MS) {
    // With sentAt, the stored time is the corrected one: say so, or a sane timestamp would seem to be the problem.
    const sent = message.timestamp === undefined ? null : parseIsoTimestamp(message.timestamp);
    const corrected =
      (message.sentAt ?? batchSentAt) !== undefined && sent !== null && sent <= now + MAX_FUTURE_SKEW_MS;
    return fail(
      corrected
        ? "timestamp, corrected for the client's clock by sentAt (timestamp - sentAt + the time received), is more than 24 hours in the future: is sentAt right?"
        : "timestamp is more than 24 hours in the future",
    );
  }

  // The walk reads the canonical copy: the client's key order (the first bad key reported is the first one sent),
  // and a `__proto__` key, which the schema's copy skips (assigning it would replace that copy's prototype).
  const size: TreeSize = { units: 0 };
  const treeError = walk(input, "message", 1, size);
  if (treeError) return fail(treeError);
  // Small messages (almost all) are provably under the limit without being serialised.
  if (size.units * 6 > MAX_MESSAGE_BYTES) {
    const bytes = size.units > MAX_MESSAGE_BYTES ? size.units : utf8Length(JSON.stringify(message), MAX_MESSAGE_BYTES);
    if (bytes > MAX_MESSAGE_BYTES)
      return fail(`message is over the ${MAX_MESSAGE_BYTES}-byte limit (${bytes} bytes or more)`);
  }
  return { ok: true, message };
}

/** What the server adds to a message (ids, times, ip, user agent, location), allowed on top of the client's limit. */
const ENRICHMENT_ALLOWANCE_BYTES = 2 * 1024;

/**
 * The per-message caps again, on a message after the batch's `context` was merged into it: a batch context is
 * checked once, but it lands in every message (issue 10, finding 2). Null when the merged message is fine.
 *
 * @example mergedMessageProblem(enriched, 3) // 'batch[3]: context.externalIds has 10000 entries; the limit is 50 per message'
 */
export function mergedMessageProblem(message: { context?: unknown }, index: number): string | null {
  if (isPlainObject(message.context)) {
    const reason = contextReason(message.context);
    if (reason) return `batch[${index}]: ${reason.message} (with the batch's context)`;
  }
  const limit = MAX_MESSAGE_BYTES + ENRICHMENT_ALLOWANCE_BYTES;
  const bytes = utf8Length(JSON.stringify(message), limit);
  if (bytes > limit) {
    return `batch[${index}]: message is over the ${MAX_MESSAGE_BYTES}-byte limit with the batch's context and integrations merged in (${bytes} bytes)`;
  }
  return null;
}
