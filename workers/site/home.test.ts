import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { homeRoutes } from "./home";

describe("GET /", () => {
  it("answers a JSON hello pointing at the API docs outside development", async () => {
    // The workers test project runs with ENVIRONMENT=test; production answers the same.
    const res = await exports.default.fetch("http://x/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({ name: "Tessera", docs: "/docs", openapi: "/openapi.json" });
  });

  it("answers a page linking the console, the demo and the docs in local development", async () => {
    const res = await homeRoutes.request("/", {}, { ...env, ENVIRONMENT: "development" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    for (const path of ["/console", "/demo", "/docs"]) expect(html).toContain(`href="${path}"`);
  });

  it("is described in /openapi.json", async () => {
    const doc = await (await exports.default.fetch("http://x/openapi.json")).json<{
      paths: Record<string, { get?: { responses?: Record<string, { content?: Record<string, unknown> }> } }>;
    }>();
    expect(Object.keys(doc.paths["/"]?.get?.responses?.["200"]?.content ?? {}).sort()).toEqual([
      "application/json",
      "text/html",
    ]);
  });
});
