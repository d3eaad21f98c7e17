/**
 * Message shapes of the Segment Spec (https://segment.com/docs/connections/spec/), which Tessera speaks on the wire.
 * The SDK imports these as types only; the Worker validates against them in `validate.ts`.
 */

export const MESSAGE_TYPES = ["track", "identify", "page", "screen", "group", "alias"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** `context.externalIds[]`: extra identifiers, e.g. a loyalty number `{id:"L-1", type:"loyalty_id"}`. */
export interface ExternalId {
  id: string;
  type: string;
  collection?: string;
  encoding?: string;
}

export interface MessageContext extends JsonObject {
  [key: string]: JsonValue;
}

interface BaseMessage {
  type: MessageType;
  messageId?: string;
  userId?: string | null;
  anonymousId?: string | null;
  /** When the event happened, by the client's clock (ISO-8601). */
  timestamp?: string;
  /** When the client sent the batch (ISO-8601); used for clock-skew correction. */
  sentAt?: string;
  originalTimestamp?: string;
  context?: JsonObject;
  integrations?: JsonObject;
}

export interface TrackMessage extends BaseMessage {
  type: "track";
  event: string;
  properties?: JsonObject;
}
export interface IdentifyMessage extends BaseMessage {
  type: "identify";
  traits?: JsonObject;
}
export interface PageMessage extends BaseMessage {
  type: "page";
  name?: string;
  category?: string;
  properties?: JsonObject;
}
export interface ScreenMessage extends BaseMessage {
  type: "screen";
  name?: string;
  category?: string;
  properties?: JsonObject;
}
export interface GroupMessage extends BaseMessage {
  type: "group";
  groupId: string;
  traits?: JsonObject;
}
export interface AliasMessage extends BaseMessage {
  type: "alias";
  previousId: string;
}

/** One message as a client sends it (every Segment or RudderStack library produces these). */
export type Message = TrackMessage | IdentifyMessage | PageMessage | ScreenMessage | GroupMessage | AliasMessage;

/** The body of `POST /v1/batch`. Top-level `context` is merged into each message. */
export interface BatchEnvelope {
  batch: Message[];
  context?: JsonObject;
  integrations?: JsonObject;
  sentAt?: string;
  writeKey?: string;
}

/**
 * A message after validation and enrichment: what a profile stores.
 * `timestamp` is skew-corrected; `receivedAt` is the server clock, both ISO-8601.
 */
export type AcceptedMessage = Message & {
  messageId: string;
  timestamp: string;
  receivedAt: string;
  originalTimestamp?: string;
  sentAt?: string;
  context: JsonObject;
};

/** The collector's answer to every ingestion call. */
export interface IngestResponse {
  success: true;
  accepted: number;
  rejected: RejectedMessage[];
}
export interface RejectedMessage {
  index: number;
  messageId?: string;
  error: string;
}
