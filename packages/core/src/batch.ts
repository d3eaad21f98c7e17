import type { Message } from "@tessera/protocol";
import type { QueueItem } from "./queue";

/** The `POST /v1/batch` body, serialised. `writeKey` rides in the body so the browser needs no auth header. */
export function batchBody(messages: Message[], writeKey: string, now: Date): string {
  return JSON.stringify({ batch: messages, sentAt: now.toISOString(), writeKey });
}

/**
 * Takes the longest prefix of `items` within `maxCount` messages and about `maxBytes` of JSON (UTF-8)
 * (always at least one item, so a big event cannot wedge the queue).
 */
export function takeBatch(items: [string, QueueItem][], maxCount: number, maxBytes: number): [string, QueueItem][] {
  let bytes = 100;
  let n = 0;
  while (n < items.length && n < maxCount) {
    bytes += utf8Bytes(JSON.stringify(items[n][1].m)) + 1;
    if (n && bytes > maxBytes) break;
    n++;
  }
  return items.slice(0, n);
}

/** Bytes of `s` in UTF-8, as servers and the beacon quota count them (characters undercount "日" threefold). */
export function utf8Bytes(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // 2 bytes up to U+07FF, 3 above; a surrogate pair's two units make 4.
    if (c > 127) n += c < 2048 || (c >= 0xd800 && c < 0xe000) ? 1 : 2;
  }
  return n;
}
