import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/local-platform.mjs";
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

  it("serves the /__mock/ surface when asked, on a fixed port, before the vendor's auth, keeping the latest requests", async () => {
    const port = await freePort();
    const driven = await startMockVendor(
      (app) => {
        app.use((c, next) =>
          c.req.header("authorization") ? next() : Promise.resolve(c.json({ error: "auth" }, 401)),
        );
        app.get("/ping", (c) => c.json({ ok: true }));
      },
      undefined,
      { port, keepRequests: 2, control: (app) => app.get("/__mock/hello", (c) => c.json({ hello: true })) },
    );
    try {
      expect(driven.url).toBe(`http://127.0.0.1:${port}`);
      const auth = { authorization: "Bearer t" };
      for (const q of ["a", "b", "c"])
        expect((await fetch(`${driven.url}/ping?q=${q}`, { headers: auth })).status).toBe(200);
      expect(await (await fetch(`${driven.url}/__mock/hello`)).json()).toEqual({ hello: true });
      const logged = (await (await fetch(`${driven.url}/__mock/requests`)).json()) as Array<{ query: object }>;
      expect(logged.map((r) => r.query)).toEqual([{ q: "b" }, { q: "c" }]);
      const fault = { match: { path: "/ping" }, respond: { status: 503 } };
      expect((await fetch(`${driven.url}/__mock/faults`, { method: "POST", body: JSON.stringify(fault) })).status).toBe(
        200,
      );
      expect((await fetch(`${driven.url}/ping`, { headers: auth })).status).toBe(503);
      expect((await fetch(`${driven.url}/__mock/reset`, { method: "POST" })).status).toBe(200);
      expect(driven.requests).toEqual([]);
      await expect(startMockVendor(() => {}, undefined, { port })).rejects.toMatchObject({ code: "EADDRINUSE" });
    } finally {
      await driven.stop();
    }
    // Without `control`, the vendor's own routes answer everything.
    expect((await fetch(`${mock.url}/__mock/requests`)).status).toBe(404);
  });
});
