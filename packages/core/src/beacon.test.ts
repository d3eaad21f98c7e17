import { afterEach, describe, expect, it, vi } from "vitest";
import { memoryStorage, scriptedTransport } from "../test-support/fakes";
import { Engine } from "./engine";
import { memoryKeyValue } from "./key-value";

function setup() {
  const t = scriptedTransport();
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

  it("resends beaconed events after five minutes, since a beacon is never acknowledged", async () => {
    vi.useFakeTimers();
    const { e, sent } = setup();
    e.track("E");
    e.beacon(() => true, 60 * 1024);
    vi.setSystemTime(Date.now() + 300_001);
    await e.flush();
    expect(sent.map((s) => s.body.batch.length)).toEqual([1]);
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
