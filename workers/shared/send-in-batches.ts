/** `sendBatch` takes at most 100 messages and 256 KB per call; the byte budget leaves room for per-message overhead. */
const MAX_SEND_MESSAGES = 100;
const MAX_SEND_BYTES = 200_000;

/**
 * Sends `bodies` in order, in as few `sendBatch` calls as the queue's per-call limits allow. Throws when a call is
 * refused; what was sent before stays sent (consumers dedupe or are idempotent).
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
    const size = JSON.stringify(body).length;
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
