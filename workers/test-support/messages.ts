/** Test fixtures: accepted messages and ingest inputs as the collector would hand them to a ProfileDO. */
import type { AcceptedMessage, JsonObject } from "@tessera/protocol";
import type { IngestInput } from "../profile/profile-rpc";

let counter = 0;

/** A fresh id, so tests sharing one file's storage never collide. */
export function freshId(prefix: string): string {
  counter++;
  return `${prefix}_${counter}_${crypto.randomUUID().slice(0, 8)}`;
}

/** A track event at `at` (ISO), received one second later unless told otherwise. */
export function track(event: string, at: string, extra: Partial<AcceptedMessage> = {}): AcceptedMessage {
  return {
    type: "track",
    event,
    messageId: freshId("msg"),
    anonymousId: "anon-1",
    timestamp: at,
    receivedAt: new Date(Date.parse(at) + 1000).toISOString(),
    context: {},
    ...extra,
  } as AcceptedMessage;
}

/** An identify call setting `traits` at `at`. */
export function identify(traits: JsonObject, at: string, extra: Partial<AcceptedMessage> = {}): AcceptedMessage {
  return {
    type: "identify",
    traits,
    messageId: freshId("msg"),
    userId: "u-1",
    timestamp: at,
    receivedAt: new Date(Date.parse(at) + 1000).toISOString(),
    context: {},
    ...extra,
  } as AcceptedMessage;
}

/** An ingest call for `profileId` in workspace `ws_test`. */
export function ingestInput(
  profileId: string,
  messages: AcceptedMessage[],
  identifiers: IngestInput["identifiers"] = [],
): IngestInput {
  return { profileId, workspaceId: "ws_test", messages, identifiers };
}
