import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("GET /demo", () => {
  it("does not exist outside development", async () => {
    // The workers test project runs with ENVIRONMENT=test.
    const res = await exports.default.fetch("http://x/demo");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });
});
