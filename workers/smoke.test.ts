import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("worker", () => {
  it("answers unknown routes with the error envelope", async () => {
    const res = await exports.default.fetch("http://x/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });
  it("has the D1 schema applied", async () => {
    const row = await env.DB.prepare("SELECT count(*) AS n FROM workspaces").first<{ n: number }>();
    expect(row?.n).toBe(0);
  });
});
