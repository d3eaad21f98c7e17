import type { SourceList } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { identify } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";

const ADMIN = bearer("admin_test");

async function errorOf(res: Response): Promise<{ status: number; body: unknown }> {
  return { status: res.status, body: await res.json() };
}

describe("request validation by the routes' schemas", () => {
  it("answers 400 with the envelope naming the field of a bad admin body", async () => {
    const { secretKey } = await seedWorkspace();
    const json = { "content-type": "application/json" };
    const rules = await api("/v1/identity-rules", bearer(secretKey), {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ limits: { email: 2, user_id: 0 } }),
    });
    expect(await errorOf(rules)).toEqual({
      status: 400,
      body: { error: { code: "validation_error", message: "limits.user_id: must be an integer from 1 to 1000" } },
    });
    const source = await api("/v1/sources", bearer(secretKey), { method: "POST", headers: json, body: "{}" });
    expect(await errorOf(source)).toEqual({
      status: 400,
      body: { error: { code: "validation_error", message: '"name" is required' } },
    });
  });

  it("answers 400 with the envelope naming the parameter of a bad events query", async () => {
    const ws = await seedWorkspace();
    const [profileId] = await store(ws.workspaceId, [identify({}, "2025-01-01T00:00:00.000Z", { userId: "u-1" })]);
    const read = (query: string) => api(`/v1/profiles/${profileId}/events${query}`, bearer(ws.secretKey));
    expect(await errorOf(await read("?limit=0"))).toEqual({
      status: 400,
      body: { error: { code: "validation_error", message: 'limit must be a whole number from 1 to 1000, got "0"' } },
    });
    expect(await errorOf(await read("?type=click"))).toEqual({
      status: 400,
      body: {
        error: {
          code: "validation_error",
          message: 'type must be one of track, identify, page, screen, group, alias, got "click"',
        },
      },
    });
  });

  it("answers 400 saying a query parameter was given more than once, whichever it is", async () => {
    const ws = await seedWorkspace();
    const [profileId] = await store(ws.workspaceId, [identify({}, "2025-01-01T00:00:00.000Z", { userId: "u-1" })]);
    for (const [query, name] of [
      ["?event=a&event=b", "event"],
      ["?limit=5&limit=6", "limit"],
      ["?type=track&type=page&type=alias", "type"],
      ["?cursor=a&cursor=b", "cursor"],
    ]) {
      const res = await api(`/v1/profiles/${profileId}/events${query}`, bearer(ws.secretKey));
      const times = query.split("&").length;
      expect(await errorOf(res), query).toEqual({
        status: 400,
        body: { error: { code: "validation_error", message: `${name} was given ${times} times: pass it once` } },
      });
    }
  });

  it("answers a replay id that is not a positive integer with the same reason, zero included", async () => {
    const { secretKey } = await seedWorkspace();
    for (const id of [0, -1, 1.5, "3"]) {
      const res = await api("/v1/dead-letters/replay", bearer(secretKey), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ids: [id] }),
      });
      expect(await errorOf(res), JSON.stringify(id)).toEqual({
        status: 400,
        body: {
          error: { code: "validation_error", message: "ids[0]: ids must be dead letter ids (positive integers)" },
        },
      });
    }
  });

  it("refuses an unknown field in a body that takes none, and still issues a key without a body", async () => {
    const { secretKey } = await seedWorkspace();
    const sources = await (await api("/v1/sources", bearer(secretKey))).json<SourceList>();
    for (const path of ["/v1/secret-keys", `/v1/sources/${sources.data[0].id}/keys`]) {
      const issue = (init: RequestInit) => api(path, bearer(secretKey), { method: "POST", ...init });
      for (const headers of [
        { "content-type": "application/json" },
        { "content-type": "application/x-www-form-urlencoded" },
      ]) {
        expect(await errorOf(await issue({ headers, body: '{"name":"x"}' })), path).toEqual({
          status: 400,
          body: { error: { code: "validation_error", message: 'unknown field "name" (known: none)' } },
        });
      }
      expect((await issue({})).status, path).toBe(201);
      expect((await issue({ headers: { "content-type": "application/json" }, body: "{}" })).status, path).toBe(201);
    }
  });

  it("answers 400 naming a malformed profile ref", async () => {
    const { secretKey } = await seedWorkspace();
    const { status, body } = await errorOf(await api("/v1/profiles/42", bearer(secretKey)));
    expect(status).toBe(400);
    expect(body).toMatchObject({
      error: { code: "validation_error", message: /^Profile ref "42" is not a profile id/ },
    });
  });

  it("authenticates before it validates: a bad body without credentials is a 401", async () => {
    const res = await api("/v1/workspaces", undefined, { method: "POST", body: "{not json" });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "authentication_error" } });
  });

  it("reads an admin body as JSON whatever its Content-Type says, as `curl -d` sends it", async () => {
    for (const contentType of ["application/x-www-form-urlencoded", "text/plain;charset=UTF-8", null]) {
      const headers: Record<string, string> = contentType ? { "content-type": contentType } : {};
      const body = new TextEncoder().encode(JSON.stringify({ name: "Curl" }));
      const res = await api("/v1/workspaces", ADMIN, { method: "POST", headers, body });
      expect(res.status, String(contentType)).toBe(201);
      expect(await res.json()).toMatchObject({ workspace: { name: "Curl" } });
    }
  });
});
