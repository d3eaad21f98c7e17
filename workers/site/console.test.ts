import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("GET /console", () => {
  it("serves the shell under a strict CSP that admits only this origin's script, style and API", async () => {
    const res = await exports.default.fetch("http://x/console");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await res.text();
    expect(html).not.toMatch(/<script>|<style>| style=/);
    expect(html).toMatch(/<script type="module" src="\/console\/assets\/console-[0-9a-f]{16}\.js"><\/script>/);
  });

  it("answers every console page with the same shell, so a reload of a deep link works", async () => {
    const shell = await (await exports.default.fetch("http://x/console")).text();
    for (const path of [
      "/console/profiles",
      "/console/profiles/email%3Ajane%40example.com",
      "/console/audiences/new",
    ]) {
      const res = await exports.default.fetch(`http://x${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toBe(shell);
    }
  });

  it("serves the build's script and stylesheet, cached for good, and 404 for anything else", async () => {
    const shell = await (await exports.default.fetch("http://x/console")).text();
    const script = shell.match(/src="([^"]+\.js)"/)?.[1];
    const style = shell.match(/href="([^"]+\.css)"/)?.[1];
    const js = await exports.default.fetch(`http://x${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    expect(js.headers.get("cache-control")).toContain("immutable");
    expect((await js.text()).length).toBeGreaterThan(1000);
    const css = await exports.default.fetch(`http://x${style}`);
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    const stale = await exports.default.fetch("http://x/console/assets/console-0000000000000000.js");
    expect(stale.status).toBe(404);
    expect(await stale.json()).toMatchObject({ error: { code: "not_found" } });
  });
});
