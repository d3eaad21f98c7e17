import type { Message } from "@tessera/protocol";
import type { QueueItem } from "./queue";

/** The `POST /v1/batch` body, serialised. `writeKey` rides in the body so the browser needs no auth header. */
export function batchBody(messages: Message[], writeKey: string, now: Date): string {
  return JSON.stringify({ batch: messages, sentAt: now.toISOString(), writeKey });
}

/**
 * Takes the longest prefix of `items` within `maxCount` messages and about `maxBytes` of JSON
 * (always at least one item, so a big event cannot wedge the queue).
 */
export function takeBatch(items: [string, QueueItem][], maxCount: number, maxBytes: number): [string, QueueItem][] {
  let bytes = 100;
  let n = 0;
  while (n < items.length && n < maxCount) {
    bytes += JSON.stringify(items[n][1].m).length + 1;
    if (n && bytes > maxBytes) break;
    n++;
  }
  return items.slice(0, n);
}
