import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { claimIdempotencyKey } from "../../d1/queries/idempotent-requests";
import { ABANDONED_AFTER_MS } from "../shared/abandoned-claims";
import { identify } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { store } from "../test-support/store-messages";
import { fingerprintOf, REPLAYED_HEADER } from "./idempotency";

type Workspace = Awaited<ReturnType<typeof seedWorkspace>>;

function request(ws: Workspace, method: string, path: string, body?: unknown, key?: string): Request {
  return new Request(`http://x${path}`, {
    method,
    headers: {
      authorization: bearer(ws.secretKey),
      "content-type": "application/json",
      ...(key === undefined ? {} : { "idempotency-key": key }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const send = (req: Request) => exports.default.fetch(req);

async function sourceNames(ws: Workspace): Promise<string[]> {
  const res = await send(request(ws, "GET", "/v1/sources"));
  return (await res.json<{ data: Array<{ name: string }> }>()).data.map((s) => s.name);
}

async function audienceKeys(ws: Workspace): Promise<string[]> {
  const res = await send(request(ws, "GET", "/v1/audiences"));
  return (await res.json<{ data: Array<{ key: string }> }>()).data.map((a) => a.key);
}

describe("Idempotency-Key on the secret-key API", () => {
  it("runs a call sent twice with the same key once, and answers the second with the first's answer", async () => {
    const ws = await seedWorkspace();
    const key = crypto.randomUUID();
    const audience = { key: "lapsed", definition: { event: "Order Completed" } };
    const first = await send(request(ws, "POST", "/v1/audiences", audience, key));
    expect(first.status).toBe(201);
    expect(first.headers.get(REPLAYED_HEADER)).toBeNull();
    // Run again, the call would be refused: the audience exists. Replayed, it is the first answer.
    const second = await send(request(ws, "POST", "/v1/audiences", audience, key));
    expect(second.status).toBe(201);
    expect(second.headers.get(REPLAYED_HEADER)).toBe("true");
    expect(second.headers.get("content-type")).toBe(first.headers.get("content-type"));
    expect(await second.text()).toBe(await first.text());

    // Without a key (or with another), the call runs again, as any call does.
    expect((await send(request(ws, "POST", "/v1/audiences", audience, crypto.randomUUID()))).status).toBe(409);
  });

  it("keeps no answer that carries a new key, which D1 holds only as a hash: the call runs again", async () => {
    const ws = await seedWorkspace();
    const key = crypto.randomUUID();
    const issue = () => send(request(ws, "POST", "/v1/secret-keys", {}, key));
    const first = await issue();
    expect(first.status).toBe(201);
    expect(first.headers.get("cache-control")).toBe("no-store");
    const second = await issue();
    expect(second.status).toBe(201);
    expect(second.headers.get(REPLAYED_HEADER)).toBeNull();
    const [a, b] = [await first.json<{ secret_key: string }>(), await second.json<{ secret_key: string }>()];
    expect(a.secret_key).not.toBe(b.secret_key);
    const stored = await env.DB.prepare("SELECT count(*) AS n FROM idempotent_requests WHERE workspace_id = ?")
      .bind(ws.workspaceId)
      .first<{ n: number }>();
    expect(stored?.n).toBe(0);
    const source = await send(request(ws, "POST", "/v1/sources", { name: "pos" }, crypto.randomUUID()));
    expect(source.headers.get("cache-control")).toBe("no-store");
  });

  it("creates a source once: its resend is answered 409 naming the source, whose key is kept nowhere", async () => {
    const ws = await seedWorkspace();
    const key = crypto.randomUUID();
    const create = () => send(request(ws, "POST", "/v1/sources", { name: "pos" }, key));
    const first = await create();
    expect(first.status).toBe(201);
    const { source, write_key } = await first.json<{ source: { id: string }; write_key: string }>();
    const second = await create();
    expect(second.status).toBe(409);
    expect(second.headers.get(REPLAYED_HEADER)).toBe("true");
    const text = await second.text();
    expect(text).not.toContain(write_key);
    expect(JSON.parse(text)).toEqual({
      error: {
        code: "conflict",
        message: `This Idempotency-Key's call already created source ${source.id}; its write key was shown once: issue another with POST /v1/sources/${source.id}/keys`,
      },
    });
    expect(await sourceNames(ws)).toEqual(["default", "pos"]);
  });

  it("runs one of many concurrent sends of a call: the others are answered 409 while it runs, or its answer", async () => {
    const ws = await seedWorkspace();
    const key = crypto.randomUUID();
    const audience = { key: "lapsed", definition: { event: "Order Completed" } };
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => send(request(ws, "POST", "/v1/audiences", audience, key))),
    );
    const ran = answers.filter((r) => r.status === 201 && r.headers.get(REPLAYED_HEADER) === null);
    expect(ran).toHaveLength(1);
    for (const other of answers.filter((r) => !ran.includes(r))) {
      if (other.status === 409) expect(other.headers.get("retry-after")).toBe("1");
      else expect([other.status, other.headers.get(REPLAYED_HEADER)]).toEqual([201, "true"]);
    }
    expect(await audienceKeys(ws)).toEqual(["lapsed"]);
  });

  it("keeps no refusal, which changed nothing: the retry runs and says what is true by then", async () => {
    const ws = await seedWorkspace();
    const key = crypto.randomUUID();
    const first = await send(request(ws, "POST", "/v1/sources", { name: "  " }, key));
    expect(first.status).toBe(400);
    const second = await send(request(ws, "POST", "/v1/sources", { name: "  " }, key));
    expect(second.status).toBe(400);
    expect(second.headers.get(REPLAYED_HEADER)).toBeNull();
    expect(await second.json()).toEqual(await first.json());
  });

  it("refuses the key sent with another body or path (400), and keeps the first answer for the first call", async () => {
    const ws = await seedWorkspace();
    const key = crypto.randomUUID();
    const audience = { key: "lapsed", definition: { event: "Order Completed" } };
    expect((await send(request(ws, "POST", "/v1/audiences", audience, key))).status).toBe(201);
    for (const other of [
      request(ws, "POST", "/v1/audiences", { ...audience, key: "active" }, key),
      request(ws, "POST", "/v1/computed-traits", audience, key),
    ]) {
      const res = await send(other);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: {
          code: "validation_error",
          message:
            "This Idempotency-Key was sent with another call (method, path or body): send a new key with a new call",
        },
      });
    }
    expect(await audienceKeys(ws)).toEqual(["lapsed"]);
    const again = await send(request(ws, "POST", "/v1/audiences", audience, key));
    expect(again.headers.get(REPLAYED_HEADER)).toBe("true");
  });

  it("keeps each workspace's keys to itself", async () => {
    const a = await seedWorkspace("a");
    const b = await seedWorkspace("b");
    const key = crypto.randomUUID();
    const audience = { key: "lapsed", definition: { event: "Order Completed" } };
    expect((await send(request(a, "POST", "/v1/audiences", audience, key))).status).toBe(201);
    const inB = await send(request(b, "POST", "/v1/audiences", audience, key));
    expect(inB.status).toBe(201);
    expect(inB.headers.get(REPLAYED_HEADER)).toBeNull();
    expect(await audienceKeys(b)).toEqual(["lapsed"]);
  });

  it("answers 409 with Retry-After while the first call runs, and lets the call run once that call was abandoned", async () => {
    const ws = await seedWorkspace();
    const key = crypto.randomUUID();
    const call = () => request(ws, "POST", "/v1/sources", { name: "pos" }, key);
    const running = { workspaceId: ws.workspaceId, key, fingerprint: await fingerprintOf(call()) };
    await claimIdempotencyKey(env.DB, running, Date.now(), 0);
    const meanwhile = await send(call());
    expect(meanwhile.status).toBe(409);
    expect(meanwhile.headers.get("retry-after")).toBe("1");
    expect(await meanwhile.json()).toEqual({
      error: { code: "conflict", message: "The first call with this Idempotency-Key is still running" },
    });
    expect(await sourceNames(ws)).toEqual(["default"]);

    // A call that claimed a key and never answered died with its isolate: past the lease, the call runs.
    const stale = { ...running, key: crypto.randomUUID() };
    await claimIdempotencyKey(env.DB, stale, Date.now() - ABANDONED_AFTER_MS - 1_000, 0);
    const retried = await send(request(ws, "POST", "/v1/sources", { name: "pos" }, stale.key));
    expect(retried.status).toBe(201);
    expect(await sourceNames(ws)).toEqual(["default", "pos"]);
  });

  it("answers a resent delete as the first: 204, empty", async () => {
    const ws = await seedWorkspace();
    const audience = { key: "lapsed", definition: { event: "Order Completed" } };
    expect((await send(request(ws, "POST", "/v1/audiences", audience))).status).toBe(201);
    const key = crypto.randomUUID();
    const first = await send(request(ws, "DELETE", "/v1/audiences/lapsed", undefined, key));
    expect(first.status).toBe(204);
    const second = await send(request(ws, "DELETE", "/v1/audiences/lapsed", undefined, key));
    expect(second.status).toBe(204);
    expect(second.headers.get(REPLAYED_HEADER)).toBe("true");
    expect(await second.text()).toBe("");
  });

  it("keeps no 409: the same call runs again once what it conflicted with is gone", async () => {
    const ws = await seedWorkspace();
    const audience = { key: "lapsed", definition: { event: "Order Completed" } };
    expect((await send(request(ws, "POST", "/v1/audiences", audience))).status).toBe(201);
    const key = crypto.randomUUID();
    expect((await send(request(ws, "POST", "/v1/audiences", audience, key))).status).toBe(409);
    expect((await send(request(ws, "DELETE", "/v1/audiences/lapsed"))).status).toBe(204);
    const again = await send(request(ws, "POST", "/v1/audiences", audience, key));
    expect(again.status).toBe(201);
    expect(again.headers.get(REPLAYED_HEADER)).toBeNull();
  });

  it("keeps nothing that names the person a GDPR delete named, and answers its resend as the first", async () => {
    const ws = await seedWorkspace();
    const email = `jane.${crypto.randomUUID()}@example.com`;
    await store(ws.workspaceId, [
      identify({ email }, "2026-11-01T10:00:00.000Z", { userId: undefined, anonymousId: "a-1" }),
    ]);
    const key = crypto.randomUUID();
    const erase = () =>
      send(request(ws, "DELETE", `/v1/profiles/${encodeURIComponent(`email:${email}`)}`, undefined, key));
    const first = await erase();
    expect(first.status).toBe(202);
    const second = await erase();
    expect(second.status).toBe(202);
    expect(second.headers.get(REPLAYED_HEADER)).toBe("true");
    expect(await second.json()).toEqual(await first.json());
    const kept = await env.DB.prepare("SELECT * FROM idempotent_requests WHERE workspace_id = ?")
      .bind(ws.workspaceId)
      .all();
    expect(kept.results).toHaveLength(1);
    expect(JSON.stringify(kept.results)).not.toContain(email.split("@")[0]);
  });

  it("refuses an empty or overlong key, and ignores one on a read", async () => {
    const ws = await seedWorkspace();
    for (const key of [" ", "k".repeat(201)]) {
      const res = await send(request(ws, "POST", "/v1/sources", { name: "pos" }, key));
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { message: string } }>()).error.message).toBe(
        "Idempotency-Key must be 1 to 200 characters (a UUID will do)",
      );
    }
    const key = crypto.randomUUID();
    await send(request(ws, "GET", "/v1/sources", undefined, key));
    expect((await send(request(ws, "POST", "/v1/sources", { name: "pos" }, key))).status).toBe(201);
    expect(await sourceNames(ws)).toEqual(["default", "pos"]);
  });
});
