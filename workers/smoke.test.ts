import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("worker", () => {
  it("answers unknown routes with the error envelope", async () => {
    const res = await exports.default.fetch("http://x/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });
  it("has the D1 schema applied", async () => {
    const applied = await env.DB.prepare("SELECT name FROM d1_migrations ORDER BY id").all<{ name: string }>();
    expect(applied.results.map((m) => m.name)).toEqual(env.TEST_MIGRATIONS.map((m) => m.name));
    expect(await env.DB.prepare("SELECT count(*) AS n FROM workspaces").first("n")).toEqual(expect.any(Number));
  });
});
