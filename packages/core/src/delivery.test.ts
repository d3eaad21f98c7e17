import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { memoryStorage, scriptedTransport } from "../test-support/fakes";
import { Engine, type EngineOptions } from "./engine";
import { memoryKeyValue } from "./key-value";
import type { QueueItem } from "./queue";
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

  it("sends a stored item under the id another process renamed its anonymous id to, after a failed send kept the old", async () => {
    let renamed: [string, string] | undefined;
    const { e, sent, store } = engine([{ status: 500 }], { renamedId: () => renamed });
    const fresh = e.user().anonymousId;
    e.track("Queued");
    await e.flush();
    // The failed send wrote its copy back with the fresh id; another tab's exchange then mapped that id to the server's.
    expect((await store.entries<QueueItem>())[0][1].m.anonymousId).toBe(fresh);
    renamed = [fresh, "from-server"];
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent.map((s) => s.body.batch[0].anonymousId)).toEqual([fresh, "from-server"]);
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

  it("schedules new events again after an early flush succeeds during a Retry-After (QA: none sent in 460 s)", async () => {
    const { e, sent } = engine([{ status: 429, retryAfter: 300 }]);
    e.track("A");
    await e.flush();
    await e.flush();
    expect(sent.length).toBe(2);
    e.track("B");
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent.map((s) => s.body.batch.map((m) => m.event))).toEqual([["A"], ["A"], ["B"]]);
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
  it("keeps every event through a 5xx outage longer than the attempts, each counting its own (QA: all dropped)", async () => {
    const { e, sent, store } = engine(Array(14).fill({ status: 503 }));
    e.track("Early");
    await e.flush();
    // random() = 1: backoffs 1, 2, 4 … 32, then 60 s; "Late" is tracked after the 8th attempt.
    await vi.advanceTimersByTimeAsync(130_000);
    expect(sent.length).toBe(8);
    e.track("Late");
    await vi.advanceTimersByTimeAsync(600_000);
    expect(sent.length).toBe(10);
    expect((await store.entries()).length).toBe(2);
    // The next trigger (a new event, `online`, a new page) starts a new series; the outage ends during it.
    e.track("After");
    await vi.advanceTimersByTimeAsync(600_000);
    expect(sent.at(-1)!.body.batch.map((m) => m.event)).toEqual(["Early", "Late", "After"]);
    expect(await store.entries()).toEqual([]);
  });

  it("drops an event only past its own budget: the attempts and 12 h since its first failure", async () => {
    const t = scriptedTransport();
    t.transport.send = async () => ({ status: 500 });
    const { e, store } = engine([], { transport: t.transport, retry: { maxAttempts: 2 } });
    e.track("Old");
    await e.flush();
    await vi.advanceTimersByTimeAsync(11 * 3600_000);
    e.track("New");
    await vi.advanceTimersByTimeAsync(2 * 3600_000);
    await e.flush();
    // "Old" failed first 13 h ago, "New" 2 h ago: only "Old" is past the 12 h.
    expect((await store.entries<QueueItem>()).map(([, i]) => i.m.event)).toEqual(["New"]);
  });

  it("lets no flush timer set while a request was in flight send before its Retry-After (QA: sent after 1 s)", async () => {
    let answer!: (r: TransportResult) => void;
    const sent: string[] = [];
    const transport = {
      send: (_url: string, body: string) => {
        sent.push(body);
        return sent.length > 1 ? Promise.resolve({ status: 200 }) : new Promise<TransportResult>((r) => (answer = r));
      },
    };
    const { e } = engine([], { transport, flushInterval: 1000 });
    e.track("A");
    void e.flush();
    await vi.waitFor(() => expect(sent.length).toBe(1));
    e.track("B");
    answer({ status: 503, retryAfter: 10 });
    await vi.advanceTimersByTimeAsync(9999);
    expect(sent.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.length).toBe(2);
    // After it, flushInterval schedules as usual.
    e.track("C");
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent.length).toBe(3);
  });
});
