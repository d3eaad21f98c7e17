/**
 * Cloudflare Queues' limits per `sendBatch` call: 100 messages and 256 KB, 128 KB per message, about 100 bytes of
 * each counting as metadata (1 KB = 1,000 bytes). A body's size is measured as its JSON in UTF-8, an estimate of
 * the serialized size the queue counts; the batch budget stays under 256 KB to leave room for the difference.
 */
import { jsonBytes } from "./utf8";

const MAX_SEND_MESSAGES = 100;
const MAX_SEND_BYTES = 200_000;
const MAX_MESSAGE_BYTES = 128_000;
const MESSAGE_METADATA_BYTES = 100;

/** What a message costs against the limits: its body's JSON in UTF-8 bytes plus the queue's metadata. */
function messageBytes(body: unknown): number {
  return jsonBytes(body) + MESSAGE_METADATA_BYTES;
}

/**
 * Sends `bodies` in order, in as few `sendBatch` calls as the queue's per-call limits allow. Throws when a call is
 * refused, or before sending a message over the per-message limit; what was sent before stays sent (consumers
 * dedupe or are idempotent).
 *
 * `delaySeconds` delays every message (a retry queue's backoff).
 *
 * @example await sendInBatches(env.SYNC_QUEUE, changes);
 */
export async function sendInBatches<T>(
  queue: Pick<Queue<T>, "sendBatch">,
  bodies: readonly T[],
  options: { delaySeconds?: number } = {},
): Promise<void> {
  const { delaySeconds = 0 } = options;
  let batch: Array<MessageSendRequest<T>> = [];
  let bytes = 0;
  for (const body of bodies) {
    const size = messageBytes(body);
    if (size > MAX_MESSAGE_BYTES) {
      throw new RangeError(`a queue message of ${size} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`);
    }
    if (batch.length > 0 && (batch.length >= MAX_SEND_MESSAGES || bytes + size > MAX_SEND_BYTES)) {
      await queue.sendBatch(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(delaySeconds > 0 ? { body, delaySeconds } : { body });
    bytes += size;
  }
  if (batch.length > 0) await queue.sendBatch(batch);
}
