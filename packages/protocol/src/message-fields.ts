/**
 * The field schemas messages are built from, each with the reason a developer sees when it fails.
 * The reasons are a contract (clients and tests match on them): change the text only on purpose.
 */
import { z } from "zod";
import { describeValue, isPlainObject, JSON_OBJECT_DOC, type JsonObject } from "./json-object";
import { MAX_EVENT_NAME_LENGTH, MAX_EXTERNAL_IDS, MAX_IDENTIFIER_LENGTH } from "./limits";
import { parseIsoTimestamp } from "./timestamps";

// C0/C1 controls, and UTF-16 halves without their partner (they are not characters and break UTF-8 storage).
const UNSAFE_ID_CHARS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A string with nothing but whitespace: an id that names nobody. */
export const isBlank = (value: unknown): boolean => typeof value === "string" && value.trim() === "";

/** Checks shared by every id: not blank (unless `blankAllowed`), bounded, no control characters. */
function idRules(field: string, blankAllowed: boolean) {
  return (text: string, ctx: z.RefinementCtx) => {
    // A blank user or anonymous id is "no id": the message-level rule decides whether the other one is there.
    if (text.trim() === "") {
      if (!blankAllowed) ctx.addIssue(`${field} must not be empty`);
    } else if (text.length > MAX_IDENTIFIER_LENGTH) {
      ctx.addIssue(`${field} is longer than ${MAX_IDENTIFIER_LENGTH} characters`);
    } else if (UNSAFE_ID_CHARS.test(text)) {
      ctx.addIssue(`${field} contains a control character or a broken surrogate`);
    }
  };
}

/**
 * An identifier: a clean, bounded string. Clients may send numbers (Segment coerces them); `validateMessage`
 * turns those into text before this runs, so the reason still names both. `required` is the reason when it is
 * missing; without it the field is optional.
 */
export function idField(field: string, options: { required?: string; blankAllowed?: boolean } = {}) {
  const { required, blankAllowed = false } = options;
  const id = z
    .string({
      error: (issue) =>
        required && issue.input === undefined
          ? required
          : `${field} must be a string or a number, got ${describeValue(issue.input)}`,
    })
    .superRefine(idRules(field, blankAllowed));
  return { required: id, optional: id.optional() };
}

/** `messageId`: the idempotency key, a client-chosen string (numbers are refused, unlike user ids). */
export const messageIdField = z
  .string({ error: (issue) => `messageId must be a string, got ${describeValue(issue.input)}` })
  .superRefine(idRules("messageId", false))
  .optional();

/** `track.event`: the event name, required. */
export const eventField = z
  .string({ error: (issue) => `track needs an event name (a string), got ${describeValue(issue.input)}` })
  .superRefine((event, ctx) => {
    if (event.trim() === "") ctx.addIssue("event must not be empty");
    else if (event.length > MAX_EVENT_NAME_LENGTH)
      ctx.addIssue(`event is longer than ${MAX_EVENT_NAME_LENGTH} characters`);
    else if (UNSAFE_ID_CHARS.test(event)) ctx.addIssue("event contains a control character or a broken surrogate");
  });

/** A free-form object field (`properties`, `traits`, `integrations`), checked shallowly: see {@link JsonObject}. */
export function objectField(field: string, description: string) {
  return z
    .custom<JsonObject>(isPlainObject, {
      error: (issue) => `${field} must be an object, got ${describeValue(issue.input)}`,
      // A custom check aborts the whole object by default, which would skip the message's id rule.
      abort: false,
    })
    .meta({ description, ...JSON_OBJECT_DOC });
}

/**
 * `context`: free-form, except the parts identity resolution reads, which must have the shapes it expects.
 * Those issues carry a path below `context`, so `validateMessage` can rank them after the top-level fields.
 */
export const contextField = objectField(
  "context",
  "Facts about the call: library, page, device, ip, `traits`, `externalIds` ([{id, type}]) …",
).superRefine((context, ctx) => {
  if (!isPlainObject(context)) return;
  const reason = contextReason(context);
  if (reason) ctx.addIssue({ code: "custom", message: reason.message, path: [reason.key], input: context });
});

export function contextReason(context: JsonObject): { key: string; message: string } | null {
  for (const key of ["traits", "device"] as const) {
    const value = context[key];
    if (value != null && !isPlainObject(value)) {
      return { key, message: `context.${key} must be an object, got ${describeValue(value)}` };
    }
  }
  const externalIds = context.externalIds;
  if (externalIds == null) return null;
  if (!Array.isArray(externalIds)) {
    return { key: "externalIds", message: `context.externalIds must be an array, got ${describeValue(externalIds)}` };
  }
  if (externalIds.length > MAX_EXTERNAL_IDS) {
    const message = `context.externalIds has ${externalIds.length} entries; the limit is ${MAX_EXTERNAL_IDS} per message`;
    return { key: "externalIds", message };
  }
  for (const [i, entry] of externalIds.entries()) {
    if (!isPlainObject(entry) || typeof entry.id !== "string" || typeof entry.type !== "string") {
      return { key: "externalIds", message: `context.externalIds[${i}] must be an object with string id and type` };
    }
  }
  return null;
}

/** `name`, `category`: plain strings. */
export function textField(field: string) {
  return z.string({ error: (issue) => `${field} must be a string, got ${describeValue(issue.input)}` });
}

/** `timestamp`, `originalTimestamp`, `sentAt`: ISO-8601 strings naming a real instant. */
export function timeField(field: string) {
  return z
    .string({ error: (issue) => `${field} must be an ISO-8601 string, got ${describeValue(issue.input)}` })
    .superRefine((value, ctx) => {
      if (parseIsoTimestamp(value) === null)
        ctx.addIssue(`${field} "${value.slice(0, 40)}" is not an ISO-8601 timestamp`);
    });
}

/**
 * The one rule across fields: a message names its person by `userId` or `anonymousId`. A blank one counts as
 * absent (some clients send `userId: ""` before identify), so the reason names the blank one when there is one.
 */
export function idPresenceReason(fields: object): string | null {
  const message = fields as { userId?: unknown; anonymousId?: unknown };
  const has = (id: unknown) => id !== undefined && id !== null && !isBlank(id);
  if (has(message.userId) || has(message.anonymousId)) return null;
  if (isBlank(message.anonymousId)) return "anonymousId must not be empty";
  if (isBlank(message.userId)) return "userId must not be empty";
  return "userId or anonymousId is required";
}
