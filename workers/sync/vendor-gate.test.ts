/** The pace of a destination's requests to its vendor: concurrency and a sliding window (maps.md §4 RateLimitSpec). */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Redirected } from "./plugin";
import { VendorGate } from "./vendor-gate";

afterEach(() => {
  vi.restoreAllMocks();
});

const realFetch = globalThis.fetch;
/** The hosts these tests' vendors answer on. */
const isTestVendor = (input: RequestInfo | URL) =>
  /^https:\/\/(vendor|endpoint)\.test\//.test(input instanceof Request ? input.url : String(input));

/**
 * Answers this file's vendor requests with `answer`; every other request goes out as usual. The runtime is shared with
 * other files (vitest `isolate: false`), whose destination objects may still call out while these tests run: a spy
 * answering (or holding) their requests from this test's context once hung the suite ("Cannot perform I/O on behalf of
 * a different Durable Object") and counted their calls as the gate's.
 */
function answerVendor(answer: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>) {
  const spy = vi
    .spyOn(globalThis, "fetch")
    .mockImplementation((input, init) => (isTestVendor(input) ? answer(input, init) : realFetch(input, init)));
  return { calls: () => spy.mock.calls.filter(([input]) => isTestVendor(input)).length };
}

/** A vendor whose answers the test releases by hand, counting what is in flight. */
function heldVendor() {
  const held: Array<() => void> = [];
  let inFlight = 0;
  let peak = 0;
  answerVendor(async () => {
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
    const vendor = answerVendor(async () => new Response("ok"));
    let now = 1_000_000;
    const gate = new VendorGate({ concurrency: 10, rate: { limit: 2, perMs: 1000 } }, { now: () => now });
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
    expect(vendor.calls()).toBe(4);
  });

  it("holds a request while the window is full, then sends it", async () => {
    const vendor = answerVendor(async () => new Response("ok"));
    const gate = new VendorGate({ concurrency: 10, rate: { limit: 1, perMs: 40 } });
    await gate.fetch("https://vendor.test/1");
    const second = gate.fetch("https://vendor.test/2");
    await new Promise((r) => setTimeout(r, 5));
    expect(vendor.calls()).toBe(1);
    await second;
    expect(vendor.calls()).toBe(2);
  });

  it("aborts a request that gets no answer, freeing its slot, and keeps the caller's own signal", async () => {
    answerVendor(async (input, init) => {
      if (String(input).endsWith("/hangs"))
        return new Promise<Response>((_, reject) => {
          const signal = init?.signal as AbortSignal;
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener("abort", () => reject(signal.reason));
        });
      return new Response("ok");
    });
    const gate = new VendorGate({ concurrency: 1, rate: { limit: 1000, perMs: 1000 } }, { timeoutMs: 50 });
    const hung = gate.fetch("https://vendor.test/hangs");
    const next = gate.fetch("https://vendor.test/answers");
    await expect(hung).rejects.toMatchObject({ name: "TimeoutError" });
    expect((await next).status).toBe(200);
    const caller = new AbortController();
    const cancelled = expect(gate.fetch("https://vendor.test/hangs", { signal: caller.signal })).rejects.toThrow(
      "the caller gave up",
    );
    await settle();
    caller.abort(new Error("the caller gave up"));
    await cancelled;
  });

  it("lets a plugin read at most so much of an answer, declared or streamed", async () => {
    const chunk = new Uint8Array(1000).fill(120);
    const endless = () =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(chunk);
        },
      });
    answerVendor(async (input) => {
      if (String(input).endsWith("/small")) return new Response("x".repeat(4000), { status: 201 });
      if (String(input).endsWith("/declared")) return new Response("x".repeat(6000));
      return new Response(endless());
    });
    const gate = new VendorGate({ concurrency: 2, rate: { limit: 1000, perMs: 1000 } }, { maxResponseBytes: 5000 });
    const small = await gate.fetch("https://vendor.test/small");
    expect(small.status).toBe(201);
    expect(await small.text()).toHaveLength(4000);
    await expect((await gate.fetch("https://vendor.test/declared")).text()).rejects.toThrow(/larger than 5000 bytes/);
    await expect((await gate.fetch("https://vendor.test/endless")).text()).rejects.toThrow(/larger than 5000 bytes/);
  });

  it("follows no redirect: a 3xx throws Redirected naming where it points, and nothing is sent there", async () => {
    const vendor = answerVendor(async (_input, init) =>
      init?.redirect === "manual"
        ? new Response(null, { status: 308, headers: { location: "/v2/hook" } })
        : new Response("ok from wherever the redirect led"),
    );
    const gate = new VendorGate({ concurrency: 1, rate: { limit: 1000, perMs: 1000 } });
    const sent = gate.fetch("https://endpoint.test/hook", { method: "POST", body: "{}" });
    await expect(sent).rejects.toMatchObject({
      name: "Redirected",
      message: expect.stringContaining("https://endpoint.test/hook redirects to https://endpoint.test/v2/hook"),
    });
    await expect(sent).rejects.toBeInstanceOf(Redirected);
    expect(vendor.calls()).toBe(1);
  });

  describe("without published limits (maxConcurrency)", () => {
    it("doubles what it lets in flight each time as many answers as it has slots came back good, up to its ceiling", async () => {
      const vendor = heldVendor();
      const gate = new VendorGate({ concurrency: 2, rate: { limit: 1000, perMs: 1000 }, maxConcurrency: 8 });
      const calls = Array.from({ length: 40 }, () => gate.fetch("https://endpoint.test/hook"));
      const inFlight: number[] = [];
      for (let round = 0; round < 4; round++) {
        await settle();
        inFlight.push(vendor.held.length);
        vendor.releaseAll();
      }
      expect(inFlight).toEqual([2, 4, 8, 8]);
      while (vendor.held.length > 0 || gate.busy > 0) {
        vendor.releaseAll();
        await settle();
      }
      await Promise.all(calls);
      expect(gate.concurrency).toBe(8);
    });

    it("grows its rate window with it, in proportion", async () => {
      answerVendor(async () => new Response("ok"));
      const now = 1_000_000;
      const gate = new VendorGate(
        { concurrency: 1, rate: { limit: 2, perMs: 1000 }, maxConcurrency: 4 },
        { now: () => now },
      );
      // Fixed, the third request would wait for the window; grown to 4 in flight, the window holds 8.
      for (let i = 0; i < 7; i++) await gate.fetch("https://endpoint.test/hook");
      expect(gate.concurrency).toBe(4);
      expect(gate.waitMs()).toBe(0);
      await gate.fetch("https://endpoint.test/hook");
      expect(gate.waitMs()).toBe(1045);
    });

    it("halves on a 429, a 5xx or a network error, and never shrinks below where it started", async () => {
      const answers: Array<number | "down"> = [...Array(6).fill(200), 503, 429, "down", 500];
      answerVendor(async () => {
        const next = answers.shift();
        if (next === "down") throw new Error("connection refused");
        return new Response("", { status: next });
      });
      const gate = new VendorGate({ concurrency: 2, rate: { limit: 1000, perMs: 1000 }, maxConcurrency: 16 });
      for (let i = 0; i < 6; i++) await gate.fetch("https://endpoint.test/hook");
      expect(gate.concurrency).toBe(8);
      await gate.fetch("https://endpoint.test/hook");
      expect(gate.concurrency).toBe(4);
      await gate.fetch("https://endpoint.test/hook");
      expect(gate.concurrency).toBe(2);
      await expect(gate.fetch("https://endpoint.test/hook")).rejects.toThrow("connection refused");
      expect(gate.concurrency).toBe(2);
      await gate.fetch("https://endpoint.test/hook");
      expect(gate.concurrency).toBe(2);
    });

    it("halves once for one overload, however many requests in flight it met", async () => {
      let status = 200;
      const held: Array<() => void> = [];
      answerVendor(async () => {
        if (status !== 200) await new Promise<void>((resolve) => held.push(resolve));
        return new Response("", { status });
      });
      const gate = new VendorGate({ concurrency: 2, rate: { limit: 1000, perMs: 1000 }, maxConcurrency: 16 });
      for (let i = 0; i < 14; i++) await gate.fetch("https://endpoint.test/hook");
      expect(gate.concurrency).toBe(16);
      status = 503;
      const overload = Promise.all(Array.from({ length: 16 }, () => gate.fetch("https://endpoint.test/hook")));
      await settle();
      expect(held).toHaveLength(16);
      for (const release of held.splice(0)) release();
      await overload;
      expect(gate.concurrency).toBe(8);
      const next = gate.fetch("https://endpoint.test/hook");
      await settle();
      for (const release of held.splice(0)) release();
      await next;
      expect(gate.concurrency).toBe(4);
    });

    it("halves on a timeout, but not when the caller gave up", async () => {
      answerVendor(async (input, init) => {
        if (!String(input).endsWith("/hangs")) return new Response("ok");
        const signal = init?.signal as AbortSignal;
        return new Promise<Response>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
      });
      const gate = new VendorGate(
        { concurrency: 2, rate: { limit: 1000, perMs: 1000 }, maxConcurrency: 8 },
        { timeoutMs: 50 },
      );
      for (let i = 0; i < 2; i++) await gate.fetch("https://endpoint.test/hook");
      expect(gate.concurrency).toBe(4);
      const caller = new AbortController();
      const cancelled = expect(gate.fetch("https://endpoint.test/hangs", { signal: caller.signal })).rejects.toThrow();
      await settle();
      caller.abort(new Error("the caller gave up"));
      await cancelled;
      expect(gate.concurrency).toBe(4);
      await expect(gate.fetch("https://endpoint.test/hangs")).rejects.toMatchObject({ name: "TimeoutError" });
      expect(gate.concurrency).toBe(2);
    });

    it("does not grow on answers slower than a second", async () => {
      let now = 1_000_000;
      answerVendor(async () => {
        now += 1_500;
        return new Response("ok");
      });
      const gate = new VendorGate(
        { concurrency: 2, rate: { limit: 1000, perMs: 1000 }, maxConcurrency: 16 },
        { now: () => now },
      );
      for (let i = 0; i < 10; i++) await gate.fetch("https://endpoint.test/hook");
      expect(gate.concurrency).toBe(2);
    });

    it("a vendor with published limits keeps them whatever it answers", async () => {
      answerVendor(async () => new Response("ok"));
      const gate = new VendorGate({ concurrency: 2, rate: { limit: 1000, perMs: 1000 } });
      for (let i = 0; i < 10; i++) await gate.fetch("https://vendor.test/x");
      expect(gate.concurrency).toBe(2);
    });
  });
});
