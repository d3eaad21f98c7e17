/** The outer shape of an ingestion body: a Segment batch, or one message posted to its type's endpoint. */
import {
  inspectTree,
  isPlainObject,
  type JsonObject,
  MAX_BATCH_MESSAGES,
  type MessageType,
  parseIsoTimestamp,
} from "@tessera/protocol";
import { HttpError, validationError } from "../shared/errors";

/** What the batch says about all of its messages, and the raw messages (validated one by one later). */
export interface IngestEnvelope {
  messages: unknown[];
  context?: JsonObject;
  integrations?: JsonObject;
  sentAt?: string;
  writeKey?: string;
}

/**
 * Checks the body's outer shape. A malformed envelope fails the whole request with 400 and the reason;
 * its messages are not looked at yet. `pathType` is the type implied by `/v1/track` and friends (null for `/v1/batch`).
 *
 * @example readEnvelope({ batch: [{ type: "track", event: "x", anonymousId: "a" }] }, null).messages.length // 1
 */
export function readEnvelope(json: unknown, pathType: MessageType | null): IngestEnvelope {
  if (!isPlainObject(json)) throw validationError(`The body must be a JSON object, got ${kind(json)}`);
  const writeKey = json.writeKey;
  if (writeKey !== undefined && writeKey !== null && typeof writeKey !== "string") {
    throw validationError(`writeKey must be a string, got ${kind(writeKey)}`);
  }
  const key = typeof writeKey === "string" ? writeKey : undefined;
  if (pathType) {
    // Like Segment, the endpoint decides the type; the message carries its own context and sentAt.
    return { messages: [{ ...json, type: pathType }], writeKey: key };
  }
  if (!("batch" in json)) throw validationError('The body has no batch: send {"batch":[…messages]}');
  if (!Array.isArray(json.batch)) throw validationError(`batch must be an array of messages, got ${kind(json.batch)}`);
  if (json.batch.length > MAX_BATCH_MESSAGES) {
    // A request over one of its limits, as one over 500 KB (DESIGN §3: "Over the request limit: 413"): the sender
    // splits it, it is not malformed.
    throw new HttpError(
      413,
      "payload_too_large",
      `batch has ${json.batch.length} messages; the limit is ${MAX_BATCH_MESSAGES} per request`,
    );
  }
  const envelope: IngestEnvelope = { messages: json.batch, writeKey: key };
  for (const field of ["context", "integrations"] as const) {
    const value = json[field];
    if (value === undefined || value === null) continue;
    if (!isPlainObject(value)) throw validationError(`The batch's ${field} must be an object, got ${kind(value)}`);
    const unsafe = inspectTree(value, field);
    if (unsafe) throw validationError(`The batch's ${unsafe}`);
    envelope[field] = value;
  }
  const sentAt = json.sentAt;
  if (sentAt !== undefined && sentAt !== null) {
    if (typeof sentAt !== "string" || parseIsoTimestamp(sentAt) === null) {
      throw validationError(
        `The batch's sentAt must be an ISO-8601 timestamp, got ${JSON.stringify(sentAt).slice(0, 40)}`,
      );
    }
    envelope.sentAt = sentAt;
  }
  return envelope;
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
