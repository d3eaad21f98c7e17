import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { seedWorkspace } from "../test-support/seed";
import { post, uid } from "../test-support/worker-requests";

const { writeKey } = await seedWorkspace("cors");

describe("CORS on the ingestion endpoints", () => {
  it("answers the preflight for a JSON, gzipped, authenticated POST", async () => {
    const res = await exports.default.fetch("https://collect.test/v1/batch", {
      method: "OPTIONS",
      headers: {
        origin: "https://shop.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization, content-encoding",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-encoding");
  });

  it("allows the headers a client's preflight asks for, such as RudderStack's AnonymousId", async () => {
    const res = await exports.default.fetch("https://collect.test/v1/track", {
      method: "OPTIONS",
      headers: {
        origin: "https://a.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,authorization,anonymousid,idempotency-key",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-headers")?.split(/,\s*/)).toEqual([
      "content-type",
      "authorization",
      "anonymousid",
      "idempotency-key",
    ]);
    expect(res.headers.get("vary")).toContain("Access-Control-Request-Headers");
  });

  it("echoes the Origin with credentials on success", async () => {
    const res = await post(
      "/v1/track",
      { event: "X", anonymousId: uid("a") },
      { key: writeKey, headers: { origin: "https://shop.example" } },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("vary")).toContain("Origin");
  });

  it("keeps the CORS headers on errors so the browser can read the reason", async () => {
    const res = await post("/v1/track", { event: "X" }, { headers: { origin: "https://shop.example" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
  });

  it("does not open CORS on non-ingestion routes", async () => {
    const res = await exports.default.fetch("https://collect.test/v1/profiles/prf_x", {
      headers: { origin: "https://evil.example" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
