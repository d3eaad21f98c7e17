import { afterEach, describe, expect, it, vi } from "vitest";
import { memoryStorage, scriptedTransport } from "../test-support/fakes";
import { Engine } from "./engine";
import { memoryKeyValue } from "./key-value";

function setup(answers: { status: number }[] = []) {
  const t = scriptedTransport(answers);
  const store = memoryStorage();
  const e = new Engine({
    writeKey: "wk",
    apiHost: "http://h",
    transport: t.transport,
    storage: () => store,
    kv: memoryKeyValue(),
  });
  return { e, store, ...t };
}

describe("Engine.beacon", () => {
  afterEach(() => vi.useRealTimers());

  it("hands queued events to the beacon within the budget and keeps them stored until acknowledged", async () => {
    const { e, store, sent } = setup();
    for (let i = 0; i < 3; i++) e.track(`E${i}`);
    const bodies: string[] = [];
    e.beacon((b) => {
      bodies.push(b);
      return true;
    }, 60 * 1024);
    expect(bodies.length).toBe(1);
    expect(JSON.parse(bodies[0]).batch.map((m: { event: string }) => m.event)).toEqual(["E0", "E1", "E2"]);
    // Not resent by the next regular flush (the beacon is on its way), but still stored.
    await e.flush();
    expect(sent).toEqual([]);
    expect((await store.entries()).length).toBe(3);
  });

  it("hands nothing to a beacon while the last request got no answer, whatever navigator.onLine says", async () => {
    const { e, store } = setup([{ status: 0 }]);
    e.track("E");
    await e.flush();
    const bodies: string[] = [];
    const beacon = () =>
      e.beacon((b) => {
        bodies.push(b);
        return true;
      }, 60 * 1024);
    // A beacon now would be lost too, and its mark would hold the event back from the next page for 5 minutes.
    beacon();
    expect(bodies).toEqual([]);
    expect((await store.entries()).length).toBe(1);
    // Answered again: the network is back, and the beacon carries what is left.
    e.track("F");
    await e.flush();
    e.track("G");
    beacon();
    expect(bodies.map((b) => JSON.parse(b).batch.map((m: { event: string }) => m.event))).toEqual([["G"]]);
  });

  it("resends beaconed events after five minutes, since a beacon is never acknowledged", async () => {
    vi.useFakeTimers();
    const { e, sent } = setup();
    e.track("E");
    e.beacon(() => true, 60 * 1024);
    vi.setSystemTime(Date.now() + 300_001);
    await e.flush();
    expect(sent.map((s) => s.body.batch.length)).toEqual([1]);
  });

  it("counts the beacon budget in UTF-8 bytes, as the browser's keepalive quota does", () => {
    const { e } = setup();
    // ~9,000 bytes each in ~3,000 characters: three fit a 20,000-character budget, only two its bytes.
    for (let i = 0; i < 3; i++) e.track(`E${i}`, { text: "日".repeat(3000) });
    const bytes: number[] = [];
    e.beacon((b) => {
      bytes.push(new TextEncoder().encode(b).length);
      return true;
    }, 20_000);
    expect(bytes.reduce((a, b) => a + b)).toBeLessThanOrEqual(20_000);
    expect(bytes.length).toBeGreaterThan(0);
  });

  it("splits bodies the browser refuses and stops at the budget", () => {
    const { e } = setup();
    for (let i = 0; i < 8; i++) e.track(`E${i}`, { pad: "x".repeat(1000) });
    const sizes: number[] = [];
    e.beacon((b) => {
      if (b.length > 5000) return false;
      sizes.push(JSON.parse(b).batch.length);
      return true;
    }, 60 * 1024);
    expect(sizes.reduce((a, b) => a + b)).toBe(8);
    expect(Math.max(...sizes)).toBeLessThan(5);
    const budgeted: number[] = [];
    const { e: e2 } = setup();
    for (let i = 0; i < 8; i++) e2.track(`E${i}`, { pad: "x".repeat(1000) });
    e2.beacon((b) => {
      budgeted.push(JSON.parse(b).batch.length);
      return true;
    }, 3500);
    expect(budgeted.reduce((a, b) => a + b)).toBeLessThan(8);
  });
});
