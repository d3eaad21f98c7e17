import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const get = (path: string, headers: Record<string, string> = {}) =>
  exports.default.fetch(`https://collect.example.com${path}`, { headers });

describe("GET /v1/id", () => {
  it("sets an HttpOnly, one-year, SameSite=Lax, Secure cookie with the client's id when it has none", async () => {
    const res = await get("/v1/id?id=11111111-2222-4333-8444-555555555555");
    expect(await res.json()).toEqual({ anonymousId: "11111111-2222-4333-8444-555555555555" });
    const cookie = res.headers.get("Set-Cookie")!;
    expect(cookie).toMatch(/^tessera_id=11111111-2222-4333-8444-555555555555;/);
    expect(cookie).toMatch(/Max-Age=31536000/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Secure/);
  });

  it("keeps the id it already set over the one the client sends", async () => {
    const res = await get("/v1/id?id=aaaaaaaa-0000-4000-8000-000000000000", {
      Cookie: "tessera_id=bbbbbbbb-0000-4000-8000-000000000000",
    });
    expect(await res.json()).toEqual({ anonymousId: "bbbbbbbb-0000-4000-8000-000000000000" });
  });

  it("mints an id when the client's is not a plausible id", async () => {
    const body = await (await get("/v1/id?id=%3Cscript%3E")).json<{ anonymousId: string }>();
    expect(body.anonymousId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("widens the cookie to the site's domain only when this host is under it", async () => {
    const mine = await get("/v1/id?id=cccccccc-0000-4000-8000-000000000000&domain=example.com");
    expect(mine.headers.get("Set-Cookie")).toMatch(/Domain=example\.com/);
    const other = await get("/v1/id?id=cccccccc-0000-4000-8000-000000000000&domain=evil.test");
    expect(other.headers.get("Set-Cookie")).not.toMatch(/Domain=/);
  });

  it("echoes the Origin with credentials for CORS", async () => {
    const res = await get("/v1/id", { Origin: "https://www.example.com" });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://www.example.com");
    expect(res.headers.get("Access-Control-Allow-Credentials")).toBe("true");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
  });
});
