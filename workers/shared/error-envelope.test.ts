import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const send = (method: string, path: string) => exports.default.fetch(`http://x${path}`, { method });

describe("requests no route answers", () => {
  it("answers 405 with Allow for a known path sent another method, before any credential is asked for", async () => {
    const cases: Array<[string, string, string]> = [
      ["PUT", "/v1/profiles/prf_x", "DELETE, GET, HEAD"],
      ["PATCH", "/v1/profiles/user_id:42", "DELETE, GET, HEAD"],
      ["POST", "/v1/profiles/prf_x", "DELETE, GET, HEAD"],
      ["DELETE", "/v1/profiles/prf_x/events", "GET, HEAD"],
      ["GET", "/v1/merges/mrg_x/undo", "POST"],
      ["GET", "/v1/dead-letters/replay", "POST"],
      ["GET", "/v1/batch", "POST"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await send(method, path);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow"), `${method} ${path}`).toBe(allow);
      expect(await res.json()).toEqual({
        error: { code: "validation_error", message: `${method} is not allowed on ${path}: it takes ${allow}` },
      });
    }
  });

  it("answers 404 for a path no method has", async () => {
    for (const [method, path] of [
      ["GET", "/nope"],
      ["PUT", "/v1/profiles"],
      ["GET", "/v1/profiles/prf_x/events/extra"],
    ]) {
      const res = await send(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get("allow")).toBeNull();
      expect(await res.json()).toEqual({ error: { code: "not_found", message: `No route for ${method} ${path}` } });
    }
  });

  it("leaves the CORS preflight of the ingestion paths to them", async () => {
    const res = await exports.default.fetch("http://x/v1/batch", {
      method: "OPTIONS",
      headers: { origin: "https://shop.example", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
  });
});
