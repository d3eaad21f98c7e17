import { describe, expect, it, vi } from "vitest";
import { memoryStorage, scriptedTransport } from "../test-support/fakes";
import { Engine } from "./engine";
import { memoryKeyValue } from "./key-value";
import type { TransportResult } from "./transport";

function setup() {
  const t = scriptedTransport();
  const store = memoryStorage();
  let opened = 0;
  const e = new Engine({
    writeKey: "wk",
    apiHost: "http://h",
    transport: t.transport,
    storage: () => {
      opened++;
      return store;
    },
    kv: memoryKeyValue(),
    requireConsent: true,
    flushAt: 1,
  });
  return { e, store, opened: () => opened, ...t };
}

describe("consent gate", () => {
  it("buffers in memory while pending: no storage opened, nothing sent", async () => {
    const { e, sent, opened } = setup();
    e.track("Early");
    await e.flush();
    expect(sent).toEqual([]);
    expect(opened()).toBe(0);
  });

  it("persists and flushes the buffer when granted, stamping category preferences", async () => {
    const { e, sent, opened } = setup();
    e.track("Early");
    await e.setConsent({ state: "granted", categoryPreferences: { analytics: true } });
    expect(opened()).toBe(1);
    e.track("Later");
    await e.flush();
    expect(sent.flatMap((s) => s.body.batch.map((m) => m.event))).toEqual(["Early", "Later"]);
    expect(sent.at(-1)!.body.batch.at(-1)!.context).toMatchObject({
      consent: { categoryPreferences: { analytics: true } },
    });
  });

  it("stamps the granted category preferences on the events buffered while pending", async () => {
    const { e, sent } = setup();
    e.track("Early");
    await e.setConsent({ state: "granted", categoryPreferences: { analytics: true, ads: false } });
    expect(sent[0].body.batch[0]).toMatchObject({
      event: "Early",
      context: { consent: { categoryPreferences: { analytics: true, ads: false } } },
    });
  });

  it("deletes stored events when consent is withdrawn", async () => {
    const { e, store } = setup();
    await e.setConsent({ state: "granted" });
    await store.setMany([["from-an-earlier-page", { m: { type: "track", event: "Old" }, t: 1 }]]);
    await e.setConsent({ state: "denied" });
    expect(await store.entries()).toEqual([]);
  });

  it("sends no further batch of a running flush once consent is withdrawn (QA: all 3 sent)", async () => {
    const bodies: string[] = [];
    let answer!: (r: TransportResult) => void;
    const transport = {
      send: (_url: string, body: string) => {
        bodies.push(body);
        return bodies.length > 1 ? Promise.resolve({ status: 200 }) : new Promise<TransportResult>((r) => (answer = r));
      },
    };
    const kv = memoryKeyValue();
    const e = new Engine({
      writeKey: "wk",
      apiHost: "http://h",
      transport,
      storage: memoryStorage,
      kv,
      maxBatchSize: 1,
    });
    for (const name of ["A", "B", "C"]) e.track(name);
    const flushed = e.flush();
    await vi.waitFor(() => expect(bodies.length).toBe(1));
    await e.setConsent({ state: "denied" });
    answer({ status: 200 });
    await flushed;
    expect(bodies.length).toBe(1);
  });

  it("stores nothing new when consent goes back to pending, and still deletes what is acknowledged meanwhile", async () => {
    const events: string[] = [];
    let answer!: (r: TransportResult) => void;
    const transport = {
      send: (_url: string, body: string) => {
        events.push(...JSON.parse(body).batch.map((m: { event: string }) => m.event));
        return events.length > 1 ? Promise.resolve({ status: 200 }) : new Promise<TransportResult>((r) => (answer = r));
      },
    };
    const store = memoryStorage();
    const e = new Engine({
      writeKey: "wk",
      apiHost: "http://h",
      transport,
      storage: () => store,
      kv: memoryKeyValue(),
      flushAt: 1,
    });
    e.track("In Flight");
    await vi.waitFor(() => expect(events).toEqual(["In Flight"]));
    expect((await store.entries()).length).toBe(1);

    await e.setConsent({ state: "pending" });
    e.track("While Pending");
    await e.flush();
    expect(events).toEqual(["In Flight"]);
    // The request sent before the change is acknowledged: its item goes, and the pending one was never stored.
    answer({ status: 200 });
    await vi.waitFor(async () => expect(await store.entries()).toEqual([]));

    await e.setConsent({ state: "granted" });
    expect(events).toEqual(["In Flight", "While Pending"]);
  });

  it("drops the buffer and later events when denied, storing none of them", async () => {
    const { e, sent, store } = setup();
    e.track("Early");
    await e.setConsent({ state: "denied" });
    e.track("Later");
    await e.flush();
    expect(sent).toEqual([]);
    expect(await store.entries()).toEqual([]);
  });

  it("deletes what an earlier page stored when pending turns to denied, so a later grant sends none of it", async () => {
    const { e, sent, store } = setup();
    await store.setMany([
      ["from-an-earlier-page", { m: { type: "track", event: "Old", messageId: "x" }, t: Date.now() }],
    ]);
    await e.setConsent({ state: "denied" });
    expect(await store.entries()).toEqual([]);
    await e.setConsent({ state: "granted" });
    expect(sent).toEqual([]);
  });
});
