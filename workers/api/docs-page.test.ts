import { exports } from "cloudflare:workers";
import type { OpenAPIV3_1 } from "openapi-types";
import { describe, expect, it } from "vitest";

/** The `src` of every `<script>` of `html`. */
const scriptSources = (html: string) => [...html.matchAll(/<script\b[^>]*\bsrc="([^"]*)"/g)].map((m) => m[1]);

// The pool's `exports.default.fetch` reaches the Worker only, never the static assets in front of it (vitest-pool-workers
// 0.13 and later): that the script itself is served, as JavaScript, and renders offline is checked against `wrangler
// dev` in real Chromium (test/browser/api-reference.test.ts).
describe("GET /docs", () => {
  it("loads Scalar from this deployment's static assets and names no other host", async () => {
    const res = await exports.default.fetch("http://x/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(scriptSources(html)).toEqual([
      expect.stringMatching(/^\/docs\/assets\/scalar-api-reference-\d+\.\d+\.\d+\.js$/),
    ]);
    // No CDN, no font server: no absolute or protocol-relative URL at all.
    expect(html).not.toMatch(/(?:[a-z]+:)?\/\/[\w-]+(?:\.[\w-]+)+/i);
    // Nor later: Scalar's usage telemetry (on by default) and its AI chat are off in the configuration it is given.
    expect(html).toMatch(/"telemetry":\s*false/);
    expect(html).toMatch(/"agent":\s*\{\s*"disabled":\s*true\s*\}/);
  });

  it("leaves /docs/assets/ to the static assets: no API route lives there", async () => {
    const doc = await (await exports.default.fetch("http://x/openapi.json")).json<OpenAPIV3_1.Document>();
    // A Worker route there would never be reached for a path that names an asset.
    expect(Object.keys(doc.paths ?? {}).filter((path) => path.startsWith("/docs/"))).toEqual([]);
  });
});
