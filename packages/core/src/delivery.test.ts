import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { memoryStorage, scriptedTransport } from "../test-support/fakes";
import { Engine, type EngineOptions } from "./engine";
import { memoryKeyValue } from "./key-value";
import type { TransportResult } from "./transport";

function engine(answers: TransportResult[], more: Partial<EngineOptions> = {}) {
  const t = scriptedTransport(answers);
  const store = memoryStorage();
  const e = new Engine({
    writeKey: "wk_test",
    apiHost: "https://collect.example/",
    transport: t.transport,
    storage: () => store,
    kv: memoryKeyValue(),
    random: () => 1,
    ...more,
  });
  return { e, store, ...t };
}

describe("Delivery", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("posts batches to /v1/batch with the write key in the body, at flushAt events", async () => {
    const { e, sent } = engine([], { flushAt: 3 });
    for (let i = 0; i < 3; i++) e.track(`E${i}`);
    await vi.waitFor(() => expect(sent.length).toBe(1));
    expect(sent[0].url).toBe("https://collect.example/v1/batch");
    expect(sent[0].body.writeKey).toBe("wk_test");
    expect(sent[0].body.batch.map((m) => m.event)).toEqual(["E0", "E1", "E2"]);
  });

  it("flushes a lone event after flushInterval", async () => {
    const { e, sent } = engine([], { flushInterval: 5000 });
    e.track("Lone");
    await vi.advanceTimersByTimeAsync(4999);
    expect(sent.length).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.length).toBe(1);
  });

  it("retries 500 with full jitter, then waits Retry-After on 429, resending the same message ids", async () => {
    const { e, sent, store } = engine([{ status: 500 }, { status: 429, retryAfter: 7 }]);
    e.track("A");
    await e.flush();
    expect(sent.length).toBe(1);
    // random() = 1 → the full first ceiling, 1 s.
    await vi.advanceTimersByTimeAsync(999);
    expect(sent.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.length).toBe(2);
    await vi.advanceTimersByTimeAsync(6999);
    expect(sent.length).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.length).toBe(3);
    expect(new Set(sent.map((s) => s.body.batch[0].messageId)).size).toBe(1);
    expect(await store.entries()).toEqual([]);
  });

  it("does not let new events bypass a scheduled backoff", async () => {
    const { e, sent } = engine([{ status: 503 }], { flushAt: 1 });
    e.track("A");
    await vi.waitFor(() => expect(sent.length).toBe(1));
    e.track("B");
    await vi.advanceTimersByTimeAsync(500);
    expect(sent.length).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(sent.length).toBe(2);
    expect(sent[1].body.batch.map((m) => m.event)).toEqual(["A", "B"]);
  });

  it("halves the batch on 413 and drops a single event the server refuses", async () => {
    const { e, sent, store } = engine([{ status: 413 }, { status: 200 }, { status: 413 }, { status: 413 }]);
    for (let i = 0; i < 4; i++) e.track(`E${i}`);
    await e.flush();
    expect(sent.map((s) => s.body.batch.length)).toEqual([4, 2, 2, 1, 1]);
    expect(await store.entries()).toEqual([]);
  });

  it("drops batches on other 4xx without retrying", async () => {
    const { e, sent, store } = engine([{ status: 400 }]);
    e.track("Bad");
    await e.flush();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sent.length).toBe(1);
    expect(await store.entries()).toEqual([]);
  });

  it("keeps items stored when the network keeps failing, for the next page", async () => {
    const { e, sent, store } = engine(Array(10).fill({ status: 0 }), { retry: { maxAttempts: 3 } });
    e.track("Offline");
    await e.flush();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent.length).toBe(3);
    expect((await store.entries()).length).toBe(1);
  });

  it("waits while offline", async () => {
    let online = false;
    const { e, sent } = engine([], { isOnline: () => online });
    e.track("A");
    await e.flush();
    expect(sent.length).toBe(0);
    online = true;
    await e.flush();
    expect(sent.length).toBe(1);
  });
});
