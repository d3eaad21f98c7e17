import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("GET /sdk/tessera.min.js", () => {
  it("serves the built IIFE as JavaScript with a cache lifetime and an ETag", async () => {
    const res = await exports.default.fetch("http://x/sdk/tessera.min.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/javascript/);
    expect(res.headers.get("Cache-Control")).toMatch(/max-age=\d+/);
    const body = await res.text();
    expect(body).toContain("tessera");
    expect(body.length).toBeGreaterThan(5000);
    const again = await exports.default.fetch("http://x/sdk/tessera.min.js", {
      headers: { "If-None-Match": res.headers.get("ETag")! },
    });
    expect(again.status).toBe(304);
  });
});
