import { describe, expect, it } from "vitest";
import { sendInBatches } from "./send-in-batches";

/** A queue that keeps every `sendBatch` call, or refuses from call `refuseFrom` on (1-based). */
function recordingQueue<T>(refuseFrom = Number.POSITIVE_INFINITY) {
  const calls: Array<Array<MessageSendRequest<T>>> = [];
  return {
    calls,
    async sendBatch(batch: Iterable<MessageSendRequest<T>>): Promise<QueueSendBatchResponse> {
      if (calls.length + 1 >= refuseFrom) throw new Error("Queue sendBatch failed: Internal Server Error");
      calls.push([...batch]);
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
    },
  };
}

const bytesOf = (batch: Array<MessageSendRequest<unknown>>) =>
  batch.reduce((sum, m) => sum + new TextEncoder().encode(JSON.stringify(m.body)).byteLength + 100, 0);

describe("sendInBatches", () => {
  it("sends 250 small messages as 100 + 100 + 50, in order", async () => {
    const queue = recordingQueue<number>();
    const bodies = Array.from({ length: 250 }, (_, i) => i);
    await sendInBatches(queue, bodies);
    expect(queue.calls.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(queue.calls.flat().map((m) => m.body)).toEqual(bodies);
  });

  it("splits a batch of fewer than 100 messages when their bytes would pass the per-call budget", async () => {
    const queue = recordingQueue<{ note: string }>();
    // 30 messages of about 10 KB: 300 KB in all, over the 256 KB a call may carry.
    const bodies = Array.from({ length: 30 }, (_, i) => ({ note: `${i}:${"x".repeat(10_000)}` }));
    await sendInBatches(queue, bodies);
    expect(queue.calls.length).toBe(2);
    for (const call of queue.calls) expect(bytesOf(call)).toBeLessThanOrEqual(256_000);
    expect(queue.calls.flat().map((m) => m.body)).toEqual(bodies);
  });

  it("counts UTF-8 bytes, not characters: non-Latin text splits sooner", async () => {
    const queue = recordingQueue<{ name: string }>();
    // 2,000 characters but 6,000 UTF-8 bytes each: 50 of them are 100,000 characters and about 300 KB.
    const bodies = Array.from({ length: 50 }, () => ({ name: "東".repeat(2_000) }));
    await sendInBatches(queue, bodies);
    expect(queue.calls.length).toBeGreaterThan(1);
    for (const call of queue.calls) expect(bytesOf(call)).toBeLessThanOrEqual(256_000);
  });

  it("refuses a message over the 128 KB per-message limit before sending it", async () => {
    const queue = recordingQueue<{ note: string }>();
    await expect(sendInBatches(queue, [{ note: "ok" }, { note: "y".repeat(130_000) }])).rejects.toThrow(/128000-byte/);
    expect(queue.calls).toEqual([]);
  });

  it("delays every message by delaySeconds", async () => {
    const queue = recordingQueue<string>();
    await sendInBatches(queue, ["a", "b"], { delaySeconds: 30 });
    expect(queue.calls).toEqual([
      [
        { body: "a", delaySeconds: 30 },
        { body: "b", delaySeconds: 30 },
      ],
    ]);
  });

  it("throws when the queue refuses a call, after the calls before it went out", async () => {
    const queue = recordingQueue<number>(2);
    await expect(
      sendInBatches(
        queue,
        Array.from({ length: 150 }, (_, i) => i),
      ),
    ).rejects.toThrow(/sendBatch failed/);
    expect(queue.calls.map((c) => c.length)).toEqual([100]);
  });
});
