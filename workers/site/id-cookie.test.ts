import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isSameSiteOrigin } from "./id-cookie";

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

  it("with replace=1 puts the client's id in the cookie over the one it holds (reset on a shared device)", async () => {
    const res = await get("/v1/id?id=aaaaaaaa-0000-4000-8000-000000000000&replace=1&domain=example.com", {
      Cookie: "tessera_id=bbbbbbbb-0000-4000-8000-000000000000",
      Origin: "https://www.example.com",
    });
    expect(await res.json()).toEqual({ anonymousId: "aaaaaaaa-0000-4000-8000-000000000000" });
    const cookie = res.headers.get("Set-Cookie")!;
    expect(cookie).toMatch(/^tessera_id=aaaaaaaa-0000-4000-8000-000000000000;/);
    expect(cookie).toMatch(/Max-Age=31536000/);
    expect(cookie).toMatch(/Domain=example\.com/);
    expect(cookie).toMatch(/HttpOnly/);
  });

  it("with replace=1 and an id that is not well-formed mints one, never keeping the cookie's", async () => {
    for (const id of ["", "%3Cscript%3E", "x".repeat(65)]) {
      const res = await get(`/v1/id?id=${id}&replace=1`, { Cookie: "tessera_id=bbbbbbbb-0000-4000-8000-000000000000" });
      const body = await res.json<{ anonymousId: string }>();
      expect(body.anonymousId, id).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.anonymousId, id).not.toBe("bbbbbbbb-0000-4000-8000-000000000000");
      expect(res.headers.get("Set-Cookie"), id).toContain(`tessera_id=${body.anonymousId};`);
    }
  });

  it("with forget=1 deletes the cookie and answers 204 without the id", async () => {
    const res = await get("/v1/id?forget=1&domain=example.com", {
      Cookie: "tessera_id=bbbbbbbb-0000-4000-8000-000000000000",
      Origin: "https://www.example.com",
    });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    const cookie = res.headers.get("Set-Cookie")!;
    expect(cookie).toMatch(/^tessera_id=;/);
    expect(cookie).toMatch(/Max-Age=0/);
    expect(cookie).toMatch(/Domain=example\.com/);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://www.example.com");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
  });

  it("refuses replace=1 and forget=1 from a null or foreign Origin, cookie untouched", async () => {
    for (const origin of ["null", "https://evil.test"]) {
      for (const q of ["id=aaaaaaaa-0000-4000-8000-000000000000&replace=1", "forget=1"]) {
        const res = await get(`/v1/id?${q}`, {
          Origin: origin,
          Cookie: "tessera_id=dddddddd-0000-4000-8000-000000000000",
        });
        expect(res.status, `${origin} ${q}`).toBe(403);
        expect(res.headers.get("Set-Cookie"), `${origin} ${q}`).toBeNull();
      }
    }
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

  it("echoes the Origin of a page on this host's site with credentials for CORS", async () => {
    const res = await get("/v1/id", { Origin: "https://www.example.com" });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://www.example.com");
    expect(res.headers.get("Access-Control-Allow-Credentials")).toBe("true");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
  });

  it("answers pages on this site: the same host, its parent domain and sibling subdomains", async () => {
    for (const origin of ["https://collect.example.com", "https://example.com", "https://shop.eu.example.com:8443"]) {
      const res = await get("/v1/id", { Origin: origin });
      expect(res.status, origin).toBe(200);
      expect(res.headers.get("Access-Control-Allow-Origin"), origin).toBe(origin);
    }
  });

  it("refuses a null or foreign Origin without setting the cookie or reading it back (issue 10, #8)", async () => {
    for (const origin of [
      "null",
      "https://evil.test",
      "https://evilexample.com",
      "https://example.com.evil.test",
      "file:///home/me/page.html",
      "chrome-extension://abcdefghijklmnop",
    ]) {
      const res = await get("/v1/id", { Origin: origin, Cookie: "tessera_id=dddddddd-0000-4000-8000-000000000000" });
      expect(res.status, origin).toBe(403);
      const body = await res.text();
      expect(body, origin).not.toContain("dddddddd");
      expect(JSON.parse(body), origin).toMatchObject({ error: { code: "forbidden" } });
      expect(res.headers.get("Access-Control-Allow-Origin"), origin).toBeNull();
      expect(res.headers.get("Set-Cookie"), origin).toBeNull();
    }
  });

  it("gives a foreign Origin's preflight no CORS headers, and this site's the echo", async () => {
    const preflight = (origin: string) =>
      exports.default.fetch("https://collect.example.com/v1/id", {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "GET" },
      });
    expect((await preflight("null")).headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect((await preflight("https://evil.test")).headers.get("Access-Control-Allow-Origin")).toBeNull();
    const mine = await preflight("https://www.example.com");
    expect(mine.headers.get("Access-Control-Allow-Origin")).toBe("https://www.example.com");
    expect(mine.headers.get("Access-Control-Allow-Credentials")).toBe("true");
  });
});

describe("isSameSiteOrigin", () => {
  it("takes the host and the domain one label up, never a bare top-level domain", () => {
    expect(isSameSiteOrigin("https://www.example.com", "collect.example.com")).toBe(true);
    expect(isSameSiteOrigin("http://WWW.Example.COM", "collect.example.com")).toBe(true);
    expect(isSameSiteOrigin("https://www.example.com", "example.com")).toBe(true);
    expect(isSameSiteOrigin("https://other.com", "example.com")).toBe(false);
    expect(isSameSiteOrigin("https://shop.example.co.uk", "t.example.co.uk")).toBe(true);
    expect(isSameSiteOrigin("https://other.co.uk", "t.example.co.uk")).toBe(false);
  });

  it("matches local hosts and addresses exactly, any port", () => {
    expect(isSameSiteOrigin("http://localhost:3000", "localhost")).toBe(true);
    expect(isSameSiteOrigin("http://127.0.0.1:3000", "127.0.0.1")).toBe(true);
    expect(isSameSiteOrigin("http://10.0.0.1", "127.0.0.1")).toBe(false);
    expect(isSameSiteOrigin("http://0.0.1", "127.0.0.1")).toBe(false);
    expect(isSameSiteOrigin("http://[::1]:3000", "[::1]")).toBe(true);
  });

  it("never takes null, an unparseable origin or a scheme other than http(s)", () => {
    for (const origin of ["null", "", "example.com", "ftp://example.com", "file:///x"]) {
      expect(isSameSiteOrigin(origin, "example.com"), origin).toBe(false);
    }
  });
});
