import { MAX_BATCH_MESSAGES, MAX_REQUEST_BYTES } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { type Batch, Batcher, batchBody, batchItem } from "./batcher";

const context = { library: { name: "tessera-cli", version: "0.1.0" } };

function pack(batcher: Batcher, rows: Array<{ row: number; message?: unknown; error?: string }>): Batch[] {
  const batches: Batch[] = [];
  for (const { row, message, error } of rows) {
    const closed = error ? batcher.reject({ row, error }) : batcher.add(batchItem({ row }, `m${row}`, message));
    if (closed) batches.push(closed);
  }
  const last = batcher.flush();
  if (last) batches.push(last);
  return batches;
}

describe("Batcher", () => {
  it("fills bodies up to the byte limit, counting the exact JSON sent", () => {
    // ~10 KB messages with multi-byte text: bytes, not characters, are what the limit counts.
    const message = (row: number) => ({
      type: "track",
      event: "E",
      userId: `u${row}`,
      properties: { note: "é".repeat(5000) },
    });
    const rows = Array.from({ length: 120 }, (_, i) => ({ row: i + 1, message: message(i + 1) }));
    const batches = pack(new Batcher({ context }), rows);
    for (const batch of batches) {
      const body = batchBody(batch.items, context);
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
      expect(JSON.parse(body).batch).toHaveLength(batch.items.length);
    }
    // Near the limit: the next message would not have fitted.
    const first = batches[0];
    expect(Buffer.byteLength(batchBody(first.items, context)) + 1 + batches[1].items[0].bytes).toBeGreaterThan(
      MAX_REQUEST_BYTES,
    );
    expect(batches.flatMap((b) => b.items.map((item) => item.row))).toEqual(rows.map((r) => r.row));
  });

  it("closes a batch at the message limit", () => {
    const rows = Array.from({ length: MAX_BATCH_MESSAGES * 2 + 10 }, (_, i) => ({
      row: i + 1,
      message: { type: "identify", userId: `u${i}` },
    }));
    const batches = pack(new Batcher(), rows);
    expect(batches.map((b) => b.items.length)).toEqual([MAX_BATCH_MESSAGES, MAX_BATCH_MESSAGES, 10]);
    expect(batches.map((b) => [b.seq, b.firstRow, b.lastRow])).toEqual([
      [0, 1, 2500],
      [1, 2501, 5000],
      [2, 5001, 5010],
    ]);
  });

  it("keeps local rejects in the batch of their rows, so every batch is a contiguous range", () => {
    const batches = pack(new Batcher({ maxMessages: 3 }), [
      { row: 1, message: { type: "identify", userId: "a" } },
      { row: 2, error: "bad" },
      { row: 3, message: { type: "identify", userId: "b" } },
      { row: 4, error: "bad" },
      { row: 5, error: "bad" },
    ]);
    expect(
      batches.map((b) => ({ rows: [b.firstRow, b.lastRow], items: b.items.length, rejects: b.rejects.length })),
    ).toEqual([
      { rows: [1, 3], items: 2, rejects: 1 },
      { rows: [4, 5], items: 0, rejects: 2 },
    ]);
  });

  it("builds the body from the serialised messages and the batch context", () => {
    const items = [batchItem({ row: 1 }, "m1", { type: "identify", userId: "ü" })];
    expect(batchBody(items, context)).toBe(
      `{"batch":[{"type":"identify","userId":"ü"}],"context":${JSON.stringify(context)}}`,
    );
    expect(items[0].bytes).toBe(Buffer.byteLength('{"type":"identify","userId":"ü"}'));
    expect(batchBody(items)).toBe('{"batch":[{"type":"identify","userId":"ü"}]}');
  });
});
