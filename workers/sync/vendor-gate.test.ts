/** The pace of a destination's requests to its vendor: concurrency and a sliding window (maps.md §4 RateLimitSpec). */
import { afterEach, describe, expect, it, vi } from "vitest";
import { VendorGate } from "./vendor-gate";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A vendor whose answers the test releases by hand, counting what is in flight. */
function heldVendor() {
  const held: Array<() => void> = [];
  let inFlight = 0;
  let peak = 0;
  vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise<void>((resolve) => held.push(resolve));
    inFlight--;
    return new Response("ok");
  });
  return {
    held,
    peak: () => peak,
    releaseAll: () => {
      for (const release of held.splice(0)) release();
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe("VendorGate", () => {
  it("keeps at most `concurrency` requests in flight and lets the next go as one returns", async () => {
    const vendor = heldVendor();
    const gate = new VendorGate({ concurrency: 3, rate: { limit: 1000, perMs: 1000 } });
    const calls = Array.from({ length: 7 }, () => gate.fetch("https://vendor.test/x"));
    await settle();
    expect(vendor.held).toHaveLength(3);
    expect(gate.busy).toBe(7);
    vendor.held.shift()?.();
    await settle();
    expect(vendor.held).toHaveLength(3);
    while (vendor.held.length > 0) {
      vendor.releaseAll();
      await settle();
    }
    await Promise.all(calls);
    expect(vendor.peak()).toBe(3);
    expect(gate.busy).toBe(0);
  });

  it("starts no more than `rate.limit` requests per window, and says how long until the window has room", async () => {
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response("ok"));
    let now = 1_000_000;
    const gate = new VendorGate({ concurrency: 10, rate: { limit: 2, perMs: 1000 } }, () => now);
    await gate.fetch("https://vendor.test/1");
    await gate.fetch("https://vendor.test/2");
    // The window (stretched a little for transit: 1000 ms * 1.02 + 25 ms) is full until the first request ages out.
    expect(gate.waitMs()).toBe(1045);
    now += 1000;
    expect(gate.waitMs()).toBe(45);
    now += 45;
    expect(gate.waitMs()).toBe(0);
    // Both first requests aged out together: room for two again.
    await gate.fetch("https://vendor.test/3");
    expect(gate.waitMs()).toBe(0);
    await gate.fetch("https://vendor.test/4");
    expect(gate.waitMs()).toBe(1045);
    expect(vi.mocked(fetch)).toHaveBeenCalledTimes(4);
  });

  it("holds a request while the window is full, then sends it", async () => {
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response("ok"));
    const gate = new VendorGate({ concurrency: 10, rate: { limit: 1, perMs: 40 } });
    await gate.fetch("https://vendor.test/1");
    const second = gate.fetch("https://vendor.test/2");
    await new Promise((r) => setTimeout(r, 5));
    expect(vi.mocked(fetch)).toHaveBeenCalledTimes(1);
    await second;
    expect(vi.mocked(fetch)).toHaveBeenCalledTimes(2);
  });
});
