import { afterAll, describe, expect, it } from "vitest";
import { SlidingWindowLimiter, startMockVendor } from "../support/mocks/mock-vendor";

const limiter = new SlidingWindowLimiter(2, 200);
const mock = await startMockVendor(
  (app) => {
    app.get("/ping", (c) => {
      const { allowed } = limiter.take("acct");
      return allowed ? c.json({ ok: true }) : c.json({ error: "slow down" }, 429);
    });
  },
  () => limiter.reset(),
);
afterAll(() => mock.stop());

describe("mock vendor frame", () => {
  it("logs requests, injects faults for N requests, and rate-limits per window", async () => {
    mock.fault({ match: { path: "/ping" }, respond: { status: 503, body: { down: true } } });
    expect((await fetch(`${mock.url}/ping?x=1`)).status).toBe(503);
    expect((await fetch(`${mock.url}/ping`)).status).toBe(200);
    expect((await fetch(`${mock.url}/ping`)).status).toBe(200);
    expect((await fetch(`${mock.url}/ping`)).status).toBe(429);
    expect(mock.requests.map((r) => r.query)).toEqual([{ x: "1" }, {}, {}, {}]);
    await new Promise((r) => setTimeout(r, 220));
    expect((await fetch(`${mock.url}/ping`)).status).toBe(200);
    mock.reset();
    expect(mock.requests).toEqual([]);
  });

  it("answers every matching request during an outage window, then the real route, and logs each status", async () => {
    mock.reset();
    const until = Date.now() + 150;
    mock.fault({ match: { path: "/ping" }, until, respond: { status: 503 } });
    expect((await fetch(`${mock.url}/ping`)).status).toBe(503);
    expect((await fetch(`${mock.url}/ping`)).status).toBe(503);
    await new Promise((r) => setTimeout(r, until - Date.now() + 20));
    expect((await fetch(`${mock.url}/ping`)).status).toBe(200);
    expect(mock.requests.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(mock.faults).toEqual([]);
  });
});
