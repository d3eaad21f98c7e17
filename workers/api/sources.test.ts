import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../d1/hash";
import { app } from "../app";
import { forgetCachedKeys, KEY_CACHE_MS, lookupKey } from "../shared/api-keys";
import { observedD1 } from "../test-support/observed-d1";
import { basicAuth, bearer, seedWorkspace } from "../test-support/seed";

/** One event through the collector with `writeKey`: what a revoked key must stop. */
function ingest(writeKey: string): Promise<Response> {
  return exports.default.fetch("http://x/v1/track", {
    method: "POST",
    headers: { authorization: basicAuth(writeKey), "content-type": "application/json" },
    body: JSON.stringify({ event: "Key Checked", anonymousId: crypto.randomUUID() }),
  });
}

function call(path: string, key: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(`http://x${path}`, {
    ...init,
    headers: { authorization: bearer(key), "content-type": "application/json" },
  });
}

interface SourceList {
  data: Array<{ id: string; name: string; write_keys: Array<{ prefix: string; revoked_at: string | null }> }>;
}

describe("sources API", () => {
  it("adds a source whose write key is live, and lists it with key prefixes only", async () => {
    const ws = await seedWorkspace();
    const res = await call("/v1/sources", ws.secretKey, { method: "POST", body: JSON.stringify({ name: "mobile" }) });
    expect(res.status).toBe(201);
    const created = await res.json<{ source: { id: string; name: string }; write_key: string }>();
    expect(created.source.name).toBe("mobile");
    expect(await lookupKey(env.DB, created.write_key)).toEqual({ workspaceId: ws.workspaceId, kind: "write" });

    const listRes = await call("/v1/sources", ws.secretKey);
    const text = await listRes.text();
    expect(text).not.toContain(created.write_key);
    expect(text).not.toContain(ws.writeKey);
    const list = JSON.parse(text) as SourceList;
    expect(list.data.map((s) => s.name)).toEqual(["default", "mobile"]);
    expect(list.data[1].write_keys).toEqual([
      expect.objectContaining({ prefix: created.write_key.slice(0, 7), revoked_at: null }),
    ]);
  });

  it("refuses an unknown field with 400 naming it, as every admin body does, and creates nothing", async () => {
    const ws = await seedWorkspace();
    const res = await call("/v1/sources", ws.secretKey, {
      method: "POST",
      body: JSON.stringify({ name: "x", extra: 1 }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('unknown field "extra"');
    const list = (await (await call("/v1/sources", ws.secretKey)).json()) as SourceList;
    expect(list.data.map((s) => s.name)).toEqual(["default"]);
  });

  it("shows one workspace none of another's sources", async () => {
    const a = await seedWorkspace("a");
    const b = await seedWorkspace("b");
    await call("/v1/sources", a.secretKey, { method: "POST", body: JSON.stringify({ name: "a-only" }) });
    const list = await (await call("/v1/sources", b.secretKey)).json<SourceList>();
    expect(list.data.map((s) => s.name)).toEqual(["default"]);
  });

  it("rotates: adds a second key, then revoking the old keys keeps the new one (issue 10, finding 4)", async () => {
    const ws = await seedWorkspace();
    const [source] = (await (await call("/v1/sources", ws.secretKey)).json<SourceList>()).data;
    const rotated = await call(`/v1/sources/${source.id}/keys`, ws.secretKey, { method: "POST" });
    expect(rotated.status).toBe(201);
    const { write_key } = await rotated.json<{ write_key: string }>();
    // Both keys ingest, so this isolate's key cache now holds them as live.
    for (const key of [write_key, ws.writeKey]) expect((await ingest(key)).status).toBe(200);

    const revoked = await call(`/v1/sources/${source.id}/keys`, ws.secretKey, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ source: { id: source.id }, revoked: 1 });
    const refused = await ingest(ws.writeKey);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: "authentication_error" } });
    expect((await ingest(write_key)).status).toBe(200);
    // Rotating out again finds nothing old to revoke: the newest key is never revoked by rotation.
    expect(
      await (await call(`/v1/sources/${source.id}/keys`, ws.secretKey, { method: "DELETE" })).json(),
    ).toMatchObject({
      revoked: 0,
    });
    expect((await ingest(write_key)).status).toBe(200);
  });

  it("revokes every key, the newest too, with ?all=true (a leaked key)", async () => {
    const ws = await seedWorkspace();
    const [source] = (await (await call("/v1/sources", ws.secretKey)).json<SourceList>()).data;
    const { write_key } = await (await call(`/v1/sources/${source.id}/keys`, ws.secretKey, { method: "POST" })).json<{
      write_key: string;
    }>();
    const res = await call(`/v1/sources/${source.id}/keys?all=true`, ws.secretKey, { method: "DELETE" });
    expect(await res.json()).toMatchObject({ revoked: 2 });
    for (const key of [write_key, ws.writeKey]) expect((await ingest(key)).status).toBe(401);
    const bad = await call(`/v1/sources/${source.id}/keys?all=yes`, ws.secretKey, { method: "DELETE" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: "validation_error", message: '"all" must be true or false' } });
  });

  it("rotates secret keys: a new one works, and revoking the others spares the caller's", async () => {
    const ws = await seedWorkspace();
    const created = await call("/v1/secret-keys", ws.secretKey, { method: "POST" });
    expect(created.status).toBe(201);
    const { secret_key } = await created.json<{ secret_key: string }>();
    expect(secret_key).toMatch(/^sk_/);
    expect((await call("/v1/sources", secret_key)).status).toBe(200);
    const revoked = await call("/v1/secret-keys", secret_key, { method: "DELETE" });
    expect(await revoked.json()).toEqual({ revoked: 1 });
    expect((await call("/v1/sources", ws.secretKey)).status).toBe(401);
    expect((await call("/v1/sources", secret_key)).status).toBe(200);
  });

  it("never revokes a write key issued while the old ones are being revoked (rotation's two clicks at once)", async () => {
    const ws = await seedWorkspace();
    const [source] = (await (await call("/v1/sources", ws.secretKey)).json<SourceList>()).data;
    let issued: string | undefined;
    // The rotation's new key lands right after the revoke's first statement about which keys to keep or revoke:
    // the key kept must be the newest at the moment the old ones are revoked.
    const db = observedD1({
      afterRun: async (sql) => {
        if (issued || !/api_keys/.test(sql) || !/order by|update/i.test(sql)) return;
        const res = await call(`/v1/sources/${source.id}/keys`, ws.secretKey, { method: "POST" });
        issued = (await res.json<{ write_key: string }>()).write_key;
      },
    });
    const revoke = await app.request(
      `/v1/sources/${source.id}/keys`,
      { method: "DELETE", headers: { authorization: bearer(ws.secretKey) } },
      { ...env, DB: db },
    );
    expect(revoke.status).toBe(200);
    forgetCachedKeys();
    expect((await ingest(issued as string)).status).toBe(200);
  });

  it("leaves the workspace a secret key when two keys revoke each other at once (on two isolates)", async () => {
    const ws = await seedWorkspace();
    const { secret_key: other } = await (await call("/v1/secret-keys", ws.secretKey, { method: "POST" })).json<{
      secret_key: string;
    }>();
    // This isolate has just seen `other` live; then another isolate's call with the first key revokes it in D1.
    expect((await call("/v1/sources", other)).status).toBe(200);
    const first = await sha256Hex(ws.secretKey);
    await env.DB.prepare(
      "UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND kind = 'secret' AND key_hash != ?",
    )
      .bind(Date.now(), ws.workspaceId, first)
      .run();
    const late = await call("/v1/secret-keys", other, { method: "DELETE" });
    expect(late.status).toBe(401);
    expect(await late.json()).toMatchObject({ error: { code: "authentication_error" } });
    forgetCachedKeys();
    expect((await call("/v1/sources", ws.secretKey)).status).toBe(200);
  });

  it("lets a revoked secret key, still trusted here for its last second, create no key or source that outlives it", async () => {
    const ws = await seedWorkspace();
    const [source] = (await (await call("/v1/sources", ws.secretKey)).json<SourceList>()).data;
    const { secret_key: leaked } = await (await call("/v1/secret-keys", ws.secretKey, { method: "POST" })).json<{
      secret_key: string;
    }>();
    // This isolate has just seen `leaked` live; then the owner's rotation on another isolate revokes it in D1.
    expect((await call("/v1/sources", leaked)).status).toBe(200);
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE key_hash = ?")
      .bind(Date.now(), await sha256Hex(leaked))
      .run();
    const keysBefore = await env.DB.prepare("SELECT count(*) AS n FROM api_keys WHERE workspace_id = ?")
      .bind(ws.workspaceId)
      .first<{ n: number }>();
    for (const [path, body] of [
      ["/v1/secret-keys", undefined],
      ["/v1/sources", JSON.stringify({ name: "backdoor" })],
      [`/v1/sources/${source.id}/keys`, undefined],
    ] as const) {
      const minted = await call(path, leaked, { method: "POST", body });
      expect(minted.status, path).toBe(401);
      expect(await minted.json(), path).toMatchObject({ error: { code: "authentication_error" } });
    }
    const keysAfter = await env.DB.prepare("SELECT count(*) AS n FROM api_keys WHERE workspace_id = ?")
      .bind(ws.workspaceId)
      .first<{ n: number }>();
    expect(keysAfter?.n).toBe(keysBefore?.n);
    forgetCachedKeys();
    const names = (await (await call("/v1/sources", ws.secretKey)).json<SourceList>()).data.map((s) => s.name);
    expect(names).not.toContain("backdoor");
  });

  it("a key revoked elsewhere (another isolate) stops working here within about a second", async () => {
    const ws = await seedWorkspace();
    expect((await ingest(ws.writeKey)).status).toBe(200);
    // Revoked straight in D1: this isolate's cache is not told, as with a revocation made by another isolate.
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND kind = 'write'")
      .bind(Date.now(), ws.workspaceId)
      .run();
    await new Promise((r) => setTimeout(r, KEY_CACHE_MS + 100));
    expect((await ingest(ws.writeKey)).status).toBe(401);
  });

  it("answers 404 for another workspace's source id, and leaves its keys alone", async () => {
    const a = await seedWorkspace("a");
    const b = await seedWorkspace("b");
    const [source] = (await (await call("/v1/sources", a.secretKey)).json<SourceList>()).data;
    for (const method of ["POST", "DELETE"]) {
      const res = await call(`/v1/sources/${source.id}/keys`, b.secretKey, { method });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
    }
    forgetCachedKeys();
    expect(await lookupKey(env.DB, a.writeKey)).not.toBeNull();
  });

  it("refuses write keys and missing credentials with 401", async () => {
    const ws = await seedWorkspace();
    expect((await call("/v1/sources", ws.writeKey)).status).toBe(401);
    expect((await exports.default.fetch("http://x/v1/sources")).status).toBe(401);
  });

  it("answers 400 naming the field for a bad body", async () => {
    const ws = await seedWorkspace();
    const res = await call("/v1/sources", ws.secretKey, { method: "POST", body: JSON.stringify({ title: "x" }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "validation_error", message: '"name" is required' } });
  });
});
