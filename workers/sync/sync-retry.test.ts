/**
 * A change the sync consumer could not hand over waits longer the more it failed: the queue drops a message after its
 * last try, so the tries must outlast a real outage (D1 or the destinations' objects down for hours), not minutes.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { QUEUE } from "../shared/queues";
import { handleSync, syncRetryDelaySeconds } from "./consumer";

/** A batch of `tessera-sync` or its dead-letter queue whose messages record how they were settled. */
function recordedBatch(queue: string, bodies: unknown[], attempts: number) {
  const settled: Array<{ id: string; retry?: number; acked?: true }> = [];
  const messages = bodies.map((body, i) => ({
    id: `m-${i}`,
    timestamp: new Date(),
    attempts,
    body,
    retry: (options?: { delaySeconds?: number }) => settled.push({ id: `m-${i}`, retry: options?.delaySeconds }),
    ack: () => settled.push({ id: `m-${i}`, acked: true }),
  }));
  const batch = { queue, messages, retryAll: () => {}, ackAll: () => {} } as unknown as MessageBatch<unknown>;
  return { batch, settled };
}

const totalWait = (queue: string, tries: number, firstAttempt = 1) =>
  Array.from({ length: tries }, (_, i) => syncRetryDelaySeconds(queue, firstAttempt + i)).reduce((a, b) => a + b, 0);

describe("sync consumer retries", () => {
  it("wait longer the more a change failed: a minute at most on the queue, an hour at most after it", () => {
    expect(syncRetryDelaySeconds(QUEUE.sync, 1)).toBe(10);
    expect(syncRetryDelaySeconds(QUEUE.sync, 10)).toBe(60);
    expect(syncRetryDelaySeconds(QUEUE.syncDeadLetter, 1)).toBe(10);
    expect(syncRetryDelaySeconds(QUEUE.syncDeadLetter, 30)).toBe(3600);
    // wrangler.toml: 10 tries on tessera-sync, then 100 on tessera-sync-dlq, after which the queue drops the message.
    const days = (totalWait(QUEUE.sync, 10) + totalWait(QUEUE.syncDeadLetter, 100)) / 86_400;
    expect(days).toBeGreaterThan(3);
  });

  it("puts a message off by its attempts on the dead-letter queue, an unreadable one too", async () => {
    const { batch, settled } = recordedBatch(QUEUE.syncDeadLetter, [{ kind: "from a newer deploy" }], 40);
    await handleSync(batch, env);
    expect(settled).toEqual([{ id: "m-0", retry: 3600 }]);
  });
});
