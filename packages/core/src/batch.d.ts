import type { Message } from "@tessera/protocol";
import type { QueueItem } from "./queue";
/** The `POST /v1/batch` body, serialised. `writeKey` rides in the body so the browser needs no auth header. */
export declare function batchBody(messages: Message[], writeKey: string, now: Date): string;
/**
 * Takes the longest prefix of `items` within `maxCount` messages and about `maxBytes` of JSON
 * (always at least one item, so a big event cannot wedge the queue).
 */
export declare function takeBatch(
  items: [string, QueueItem][],
  maxCount: number,
  maxBytes: number,
): [string, QueueItem][];
