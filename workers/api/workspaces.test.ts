import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { lookupKey } from "../shared/api-keys";
import { bearer } from "../test-support/seed";

const ADMIN = bearer("admin_test");

function createWorkspace(body: unknown, authorization: string | null = ADMIN): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (authorization) headers.authorization = authorization;
  return exports.default.fetch("http://x/v1/workspaces", {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("POST /v1/workspaces", () => {
  it("creates a workspace with a source, a write key and a secret key when the admin token is given", async () => {
    const res = await createWorkspace({ name: "  Acme  " });
    expect(res.status).toBe(201);
    const body = await res.json<{
      workspace: { id: string; name: string; created_at: string };
      write_key: string;
      secret_key: string;
      source: { id: string; name: string };
    }>();
    expect(body.workspace).toMatchObject({ name: "Acme" });
    expect(body.workspace.id).toMatch(/^ws_[0-9a-z]{20}$/);
    expect(Date.parse(body.workspace.created_at)).not.toBeNaN();
    expect(body.source.id).toMatch(/^src_/);
    expect(body.write_key).toMatch(/^wk_/);
    expect(body.secret_key).toMatch(/^sk_/);
    expect(await lookupKey(env.DB, body.write_key)).toEqual({ workspaceId: body.workspace.id, kind: "write" });
    expect(await lookupKey(env.DB, body.secret_key)).toEqual({ workspaceId: body.workspace.id, kind: "secret" });
  });

  it("stores only hashes of the keys it returns", async () => {
    const body = await (await createWorkspace({ name: "Hashes" })).json<{ write_key: string; secret_key: string }>();
    const rows = await env.DB.prepare("SELECT key_hash, prefix FROM api_keys").all<{
      key_hash: string;
      prefix: string;
    }>();
    const stored = JSON.stringify(rows.results);
    expect(stored).not.toContain(body.write_key);
    expect(stored).not.toContain(body.secret_key);
    expect(rows.results.map((r) => r.prefix)).toContain(body.secret_key.slice(0, 7));
  });

  it("lets the returned secret key read the workspace's sources", async () => {
    const body = await (await createWorkspace({ name: "Reader" })).json<{
      secret_key: string;
      source: { id: string };
    }>();
    const res = await exports.default.fetch("http://x/v1/sources", {
      headers: { authorization: bearer(body.secret_key) },
    });
    expect(res.status).toBe(200);
    const list = await res.json<{ data: Array<{ id: string; name: string }> }>();
    expect(list.data).toEqual([expect.objectContaining({ id: body.source.id, name: "default" })]);
  });

  it("refuses a missing or wrong admin token with 401", async () => {
    for (const auth of [null, bearer("admin_wrong"), bearer("admin_tes")]) {
      const res = await createWorkspace({ name: "Nope" }, auth);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: "authentication_error" } });
    }
  });

  it("refuses a workspace secret key in place of the admin token", async () => {
    const body = await (await createWorkspace({ name: "Owner" })).json<{ secret_key: string }>();
    const res = await createWorkspace({ name: "Escalation" }, bearer(body.secret_key));
    expect(res.status).toBe(401);
  });

  it("answers 400 naming the problem for bad bodies", async () => {
    const cases: Array<[unknown, RegExp]> = [
      ["", /empty/],
      ["{not json", /not valid JSON/],
      [[1, 2], /JSON object/],
      ["null", /JSON object/],
      [{}, /"name" is required/],
      [{ name: 42 }, /"name" must be a string/],
      [{ name: "   " }, /"name" must not be empty/],
      [{ name: "x".repeat(201) }, /at most 200/],
      [{ name: "a\u0000b" }, /control characters/],
    ];
    for (const [body, message] of cases) {
      const res = await createWorkspace(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = await res.json<{ error: { code: string; message: string } }>();
      expect(err.error.code).toBe("validation_error");
      expect(err.error.message).toMatch(message);
    }
  });

  it("refuses a body over 16 KB, also streamed without a length, before reading all of it", async () => {
    const big = JSON.stringify({ name: "acme", pad: "x".repeat(20_000) });
    for (const body of [big, new Blob([big]).stream()]) {
      const res = await exports.default.fetch("http://x/v1/workspaces", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: ADMIN },
        body,
      });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({
        error: {
          code: "payload_too_large",
          message: /^The body( \(\d+ bytes\))? is larger than the 16384-byte request limit$/,
        },
      });
    }
  });
});
