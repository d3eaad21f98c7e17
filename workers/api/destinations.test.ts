import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { DeadLetterList, Destination, MembershipChange, SyncLogPage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { enabledDestinations, findDestinationById } from "../../d1/queries/destinations";
import { listMembers } from "../../d1/queries/members";
import { emptyDrainRecord, type NewSyncLogRow, recordDrain } from "../../d1/queries/sync-records";
import { destinationStub, route } from "../sync/consumer";
import type { DestinationDO } from "../sync/destination-do";
import { DESTINATION_TYPES } from "../sync/registry";
import type { MembershipSyncOp, SyncOp } from "../sync/sync-op";
import { eventually, webhookReceiver } from "../test-support/destinations";
import { identify, track } from "../test-support/messages";
import { membershipOp } from "../test-support/recording-vendor";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { maskSecret } from "./destination-view";

type Workspace = Awaited<ReturnType<typeof seedWorkspace>>;

const SECRET = "whsec_test_0123456789abcdef";
const HOOK = { url: "https://hooks.example.com/tessera", secret: SECRET };
const PRO = { trait: "plan", op: "eq", value: "pro" };

/** `method path` with the workspace's secret key (or `key`), and `body` as JSON. */
function call(ws: Workspace, method: string, path: string, body?: unknown, key = ws.secretKey): Promise<Response> {
  return api(path, bearer(key), {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function expectError(res: Response, status: number, code: string, message?: string): Promise<void> {
  const body = await res.json<{ error: { code: string; message: string } }>();
  expect({ status: res.status, ...body.error }).toEqual({ status, code, message: message ?? body.error.message });
}

async function audience(ws: Workspace, key: string, definition: unknown = PRO): Promise<void> {
  const res = await call(ws, "POST", "/v1/audiences", { key, definition });
  expect(res.status, await res.clone().text()).toBe(201);
}

async function created(ws: Workspace, body: Record<string, unknown>): Promise<Destination> {
  const res = await call(ws, "POST", "/v1/destinations", body);
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json<Destination>();
}

/** A webhook destination on audience `vip` (created here), disabled unless told: its object then never drains. */
async function hook(ws: Workspace, extra: Record<string, unknown> = {}): Promise<Destination> {
  await audience(ws, "vip");
  return created(ws, { type: "webhook", name: "CRM hook", config: HOOK, audiences: ["vip"], enabled: false, ...extra });
}

const pending = (id: string) => destinationStub(env, id).pendingCount();

function membership(profileId: string, audienceKey: string, seq: number): MembershipSyncOp {
  return {
    kind: "membership",
    profileId,
    audience: audienceKey,
    member: true,
    seq,
    at: "2025-01-01T00:00:00.000Z",
    email: `${profileId}@example.com`,
    traits: {},
    profile: { id: profileId, identifiers: [], traits: {}, computed: {} },
  };
}

const emptyDrain = emptyDrainRecord(0);

/**
 * Audience `vip` with one member, in D1 already (where reconciliation reads the intended members), and the member's
 * own queue message consumed: a witness destination on `vip`, there before the member joined, has taken it. Otherwise
 * that message, late on a busy machine, would be routed to the destination the test creates next and stand in for
 * the fill being tested (a repair never replaces what waits already).
 */
async function vipWithMember(ws: Workspace): Promise<void> {
  await audience(ws, "vip");
  const witness = await created(ws, { type: "webhook", name: "witness", config: HOOK, audiences: ["vip"] });
  const [member] = await store(ws.workspaceId, [
    identify({ plan: "pro", email: "pro@example.com" }, new Date().toISOString(), {
      userId: `u-${crypto.randomUUID()}`,
    }),
  ]);
  await eventually(async () =>
    expect(
      (await listMembers(env.DB, ws.workspaceId, "audience", "vip", { limit: 10 })).map((m) => m.profileId),
    ).toEqual([member]),
  );
  await eventually(async () => {
    const took = await runInDurableObject(env.DESTINATION.getByName(witness.id), (_o: DestinationDO, state) =>
      state.storage.sql
        .exec(
          "SELECT 1 FROM pending WHERE profile_id = ?1 UNION ALL SELECT 1 FROM synced WHERE profile_id = ?1",
          member,
        )
        .toArray(),
    );
    expect(took.length, "the witness destination took the member's own queue message").toBeGreaterThan(0);
  });
}

/**
 * Waits for a reconciliation's repair in the destination's queue: the member was sent by the fill, not by its own
 * queue message (which may arrive late too).
 */
const repairQueued = (id: string) =>
  eventually(async () => {
    const ops = await runInDurableObject(env.DESTINATION.getByName(id), (_o: DestinationDO, state) =>
      state.storage.sql.exec<{ op: string }>("SELECT op FROM pending").toArray(),
    );
    expect(ops.map((r) => JSON.parse(r.op) as SyncOp).some((op) => op.kind === "membership" && op.repair)).toBe(true);
  });

describe("POST /v1/destinations", () => {
  it("creates a destination with its secrets masked, its inbound URL and a zero status", async () => {
    const ws = await seedWorkspace();
    await audience(ws, "vip");
    const d = await created(ws, {
      type: "webhook",
      name: "CRM hook",
      config: HOOK,
      audiences: ["vip"],
      traits: ["first_name", "ltv"],
    });
    expect(d.id).toMatch(/^dst_[0-9a-z]{20}$/);
    const row = await findDestinationById(env.DB, d.id);
    expect(row?.inboundSecret).toMatch(/^whsec_[0-9a-z]{32}$/);
    expect(d).toEqual({
      id: d.id,
      type: "webhook",
      name: "CRM hook",
      config: { url: HOOK.url, secret: "…cdef" },
      audiences: ["vip"],
      traits: ["first_name", "ltv"],
      enabled: true,
      created_at: d.created_at,
      updated_at: d.created_at,
      webhook_url: `http://tessera.test/v1/webhooks/${d.id}?secret=${row?.inboundSecret}`,
      status: {
        pending: 0,
        delivered: 0,
        failed: 0,
        skipped: 0,
        dead_letters: 0,
        last_success_at: null,
        last_error: null,
      },
    });
    expect(Date.parse(d.created_at)).not.toBeNaN();
    // Stored whole: the engine signs with the real secret.
    expect(JSON.parse(row?.config ?? "{}")).toEqual(HOOK);
    expect(row?.workspaceId).toBe(ws.workspaceId);
  });

  it("sends the audiences' current members at once, not at the cron's next reconciliation", async () => {
    const ws = await seedWorkspace();
    await vipWithMember(ws);
    const d = await created(ws, { type: "webhook", name: "CRM hook", config: HOOK, audiences: ["vip"] });
    await repairQueued(d.id);
  });

  it("defaults traits to none and keeps enabled: false", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    expect({ traits: d.traits, enabled: d.enabled }).toEqual({ traits: [], enabled: false });
  });

  it("answers 400 naming the known types for an unknown type", async () => {
    const ws = await seedWorkspace();
    const res = await call(ws, "POST", "/v1/destinations", {
      type: "salesforce",
      name: "x",
      config: {},
      audiences: [],
    });
    await expectError(
      res,
      400,
      "validation_error",
      `type: unknown destination type "salesforce" (known: ${DESTINATION_TYPES.join(", ")})`,
    );
  });

  it("answers 400 config.<field> when the type refuses its config, and for a masked secret", async () => {
    const ws = await seedWorkspace();
    const post = (config: unknown) =>
      call(ws, "POST", "/v1/destinations", { type: "webhook", name: "x", config, audiences: [] });
    await expectError(
      await post({ url: HOOK.url, secret: "short" }),
      400,
      "validation_error",
      "config.secret: must be a string of at least 16 characters",
    );
    await expectError(await post({ secret: SECRET }), 400, "validation_error", "config.url: is required");
    await expectError(
      await post({ url: HOOK.url, secret: "…cdef0123456789abcdef" }),
      400,
      "validation_error",
      'config.secret: is masked ("…"): send the secret itself',
    );
    await expectError(await post([]), 400, "validation_error", '"config" must be a JSON object, got an array');
  });

  it("answers 400 naming an audience key the workspace does not have", async () => {
    const ws = await seedWorkspace();
    await audience(ws, "vip");
    const other = await seedWorkspace("other");
    await audience(other, "lapsed");
    const res = await call(ws, "POST", "/v1/destinations", {
      type: "webhook",
      name: "x",
      config: HOOK,
      audiences: ["vip", "lapsed"],
    });
    await expectError(res, 400, "validation_error", 'audiences: no audience "lapsed" in this workspace');
    expect((await (await call(ws, "GET", "/v1/destinations")).json<{ data: unknown[] }>()).data).toEqual([]);
  });

  it("answers 400 for an unknown field, a missing field, a repeated key and more than 50 traits", async () => {
    const ws = await seedWorkspace();
    await audience(ws, "vip");
    const base = { type: "webhook", name: "x", config: HOOK, audiences: ["vip"] };
    const post = (body: unknown) => call(ws, "POST", "/v1/destinations", body);
    await expectError(
      await post({ ...base, audience: ["vip"] }),
      400,
      "validation_error",
      'unknown field "audience" (known: type, name, config, audiences, traits, enabled)',
    );
    await expectError(await post({ ...base, name: undefined }), 400, "validation_error", '"name" is required');
    await expectError(
      await post({ ...base, audiences: ["vip", "vip"] }),
      400,
      "validation_error",
      '"audiences" lists "vip" twice',
    );
    const traits = Array.from({ length: 51 }, (_, i) => `t${i}`);
    await expectError(await post({ ...base, traits }), 400, "validation_error", '"traits" must have at most 50 keys');
    expect((await post({ ...base, traits: traits.slice(0, 50) })).status).toBe(201);
  });
});

describe("GET, PUT, DELETE /v1/destinations(/:id)", () => {
  it("lists the workspace's destinations oldest first and reads one", async () => {
    const ws = await seedWorkspace();
    const first = await hook(ws, { name: "first" });
    const second = await created(ws, { type: "webhook", name: "second", config: HOOK, audiences: [] });
    const list = await call(ws, "GET", "/v1/destinations");
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ data: [first, second] });
    const read = await call(ws, "GET", `/v1/destinations/${first.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(first);
  });

  it("changes name and audiences, keeps a secret sent back masked and takes a new one", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    await audience(ws, "lapsed", { event: "Order Completed" });
    const url = "https://hooks.example.com/v2";
    const res = await call(ws, "PUT", `/v1/destinations/${d.id}`, {
      name: "Renamed",
      audiences: ["lapsed", "vip"],
      config: { ...d.config, url },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const changed = await res.json<Destination>();
    expect(changed).toMatchObject({ name: "Renamed", audiences: ["lapsed", "vip"], config: { url, secret: "…cdef" } });
    expect(Date.parse(changed.updated_at)).toBeGreaterThanOrEqual(Date.parse(d.updated_at));
    expect(JSON.parse((await findDestinationById(env.DB, d.id))?.config ?? "{}")).toEqual({ url, secret: SECRET });

    const fresh = "whsec_rotated_9876543210wxyz";
    const rotated = await call(ws, "PUT", `/v1/destinations/${d.id}`, { config: { url, secret: fresh } });
    expect((await rotated.json<Destination>()).config).toEqual({ url, secret: "…wxyz" });
    expect(JSON.parse((await findDestinationById(env.DB, d.id))?.config ?? "{}")).toEqual({ url, secret: fresh });
    expect((await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json<Destination>()).name).toBe("Renamed");
  });

  it("changes enabled and traits alone, leaving the rest", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    const res = await call(ws, "PUT", `/v1/destinations/${d.id}`, { enabled: true, traits: ["city"] });
    expect(await res.json()).toMatchObject({ ...d, enabled: true, traits: ["city"], updated_at: expect.any(String) });
    expect((await findDestinationById(env.DB, d.id))?.enabled).toBe(true);
  });

  it("sends the audiences' current members at once when it is enabled again", async () => {
    const ws = await seedWorkspace();
    await vipWithMember(ws);
    const d = await created(ws, {
      type: "webhook",
      name: "CRM hook",
      config: HOOK,
      audiences: ["vip"],
      enabled: false,
    });
    const res = await call(ws, "PUT", `/v1/destinations/${d.id}`, { enabled: true });
    expect(res.status, await res.clone().text()).toBe(200);
    await repairQueued(d.id);
  });

  it("answers 400 on PUT for a bad config, an unknown audience or field, and changes nothing", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    const put = (body: unknown) => call(ws, "PUT", `/v1/destinations/${d.id}`, body);
    await expectError(
      await put({ name: "x", config: { url: "ftp://nope", secret: "…cdef" } }),
      400,
      "validation_error",
      "config.url: must be http(s)",
    );
    await expectError(
      await put({ config: { url: "https://alice:s3cret@hooks.example/in", secret: "whsec_0123456789abcdef" } }),
      400,
      "validation_error",
      "config.url: must not carry a user name or password; each request is signed with the secret (X-Tessera-Signature)",
    );
    await expectError(
      await put({ audiences: ["ghost"] }),
      400,
      "validation_error",
      'audiences: no audience "ghost" in this workspace',
    );
    await expectError(
      await put({ type: "webhook" }),
      400,
      "validation_error",
      'unknown field "type" (known: name, config, audiences, traits, enabled)',
    );
    expect(await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json()).toEqual(d);
  });

  it("deletes with 204, then answers 404, and takes its sync records with it", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    await recordDrain(env.DB, d.id, {
      ...emptyDrain,
      log: [
        { destinationId: d.id, at: 1, profileId: "prf_a", audience: "vip", action: "add", outcome: "ok", attempts: 1 },
      ],
      deadLetters: [{ profileId: "prf_a", op: JSON.stringify(membership("prf_a", "vip", 1)), error: "x" }],
      at: Date.now(),
    });
    const res = await call(ws, "DELETE", `/v1/destinations/${d.id}`);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    await expectError(
      await call(ws, "GET", `/v1/destinations/${d.id}`),
      404,
      "not_found",
      `No destination ${d.id} in this workspace`,
    );
    await expectError(await call(ws, "DELETE", `/v1/destinations/${d.id}`), 404, "not_found");
    expect(await findDestinationById(env.DB, d.id)).toBeUndefined();
    const left = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM sync_log WHERE destination_id = ?1) + (SELECT count(*) FROM sync_dead_letters WHERE destination_id = ?1) AS n",
    )
      .bind(d.id)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
  });

  it("wipes what its object kept of the members it synced, though nothing was queued for it", async () => {
    const ws = await seedWorkspace();
    const endpoint = await webhookReceiver(200);
    const d = await hook(ws, { enabled: true, config: { url: endpoint.url, secret: SECRET } });
    const object = env.DESTINATION.getByName(d.id);
    const held = () =>
      runInDurableObject(object, (_o: DestinationDO, state) =>
        state.storage.sql
          .exec<{ t: string; n: number }>(
            "SELECT 'pending' AS t, count(*) AS n FROM pending UNION ALL SELECT 'synced', count(*) FROM synced " +
              "UNION ALL SELECT 'kv', count(*) FROM kv",
          )
          .toArray()
          .map(({ t, n }) => [t, n]),
      );
    await destinationStub(env, d.id).enqueue(d.id, [membershipOp("prf_ann", "vip", 1, { email: "ann@example.com" })]);
    // A walk restating traits under way keeps its state in the object's kv.
    await destinationStub(env, d.id).restateTraits(d.id, ["plan"]);
    await eventually(async () => {
      await runDurableObjectAlarm(object);
      expect(await held()).toEqual([
        ["pending", 0],
        ["synced", 1],
        ["kv", 1],
      ]);
    });

    expect((await call(ws, "DELETE", `/v1/destinations/${d.id}`)).status).toBe(204);
    expect(await held()).toEqual([
      ["pending", 0],
      ["synced", 0],
      ["kv", 0],
    ]);
  });
});

describe("an audience deleted while a destination syncs it", () => {
  const exit = (ws: Workspace, audienceKey: string, member: boolean): MembershipChange => ({
    kind: "membership",
    workspaceId: ws.workspaceId,
    profileId: "prf_ann",
    audience: audienceKey,
    member,
    seq: 9,
    at: "2025-01-01T00:00:00.000Z",
    identifiers: [{ type: "email", value: "ann@example.com" }],
    traits: {},
    computed: {},
  });
  const routedTo = async (ws: Workspace, change: MembershipChange) =>
    route(change, await enabledDestinations(env.DB, ws.workspaceId)).map((r) => r.destinationId);

  it("is no longer listed, its exits still reach the destination, and one made again later is not synced", async () => {
    const ws = await seedWorkspace();
    await audience(ws, "vip");
    await audience(ws, "bulk", { event: "Order Completed" });
    const d = await created(ws, { type: "webhook", name: "CRM hook", config: HOOK, audiences: ["vip", "bulk"] });
    expect((await call(ws, "DELETE", "/v1/audiences/vip")).status).toBe(204);

    const read = await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json<Destination>();
    expect(read.audiences).toEqual(["bulk"]);
    const list = await (await call(ws, "GET", "/v1/destinations")).json<{ data: Destination[] }>();
    expect(list.data.map((x) => x.audiences)).toEqual([["bulk"]]);
    // The members' exits come from their profiles as the deletion's rebuild reaches them: the vendor hears them.
    expect(await routedTo(ws, exit(ws, "vip", false))).toEqual([d.id]);

    // A new audience under the key is another audience: the destination syncs it only once told to.
    await audience(ws, "vip");
    expect(await routedTo(ws, exit(ws, "vip", true))).toEqual([]);
    expect((await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json<Destination>()).audiences).toEqual(["bulk"]);
    const put = await call(ws, "PUT", `/v1/destinations/${d.id}`, { audiences: ["bulk", "vip"] });
    expect((await put.json<Destination>()).audiences).toEqual(["bulk", "vip"]);
    expect(await routedTo(ws, exit(ws, "vip", true))).toEqual([d.id]);
  });
});

describe("workspaces and credentials", () => {
  it("answers 404 for another workspace's destination on every route, and leaves it alone", async () => {
    const a = await seedWorkspace("a");
    const b = await seedWorkspace("b");
    const d = await hook(a);
    await recordDrain(env.DB, d.id, {
      ...emptyDrain,
      deadLetters: [{ profileId: "prf_a", op: JSON.stringify(membership("prf_a", "vip", 1)), error: "x" }],
      at: Date.now(),
    });
    expect((await (await call(b, "GET", "/v1/destinations")).json<{ data: unknown[] }>()).data).toEqual([]);
    for (const [method, path, body] of [
      ["GET", "", undefined],
      ["PUT", "", { name: "Mine now" }],
      ["DELETE", "", undefined],
      ["GET", "/log", undefined],
      ["GET", "/dead-letters", undefined],
      ["POST", "/dead-letters/replay", undefined],
      ["POST", "/reconcile", undefined],
    ] as const) {
      await expectError(
        await call(b, method, `/v1/destinations/${d.id}${path}`, body),
        404,
        "not_found",
        `No destination ${d.id} in this workspace`,
      );
    }
    expect(await (await call(a, "GET", `/v1/destinations/${d.id}`)).json()).toEqual({
      ...d,
      status: { ...d.status, dead_letters: 1 },
    });
    expect(await pending(d.id)).toBe(0);
  });

  it("refuses a write key and missing credentials with 401 on every route", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    const routes: Array<[string, string, unknown]> = [
      ["POST", "/v1/destinations", { type: "webhook", name: "x", config: HOOK, audiences: [] }],
      ["GET", "/v1/destinations", undefined],
      ["GET", `/v1/destinations/${d.id}`, undefined],
      ["PUT", `/v1/destinations/${d.id}`, { name: "x" }],
      ["DELETE", `/v1/destinations/${d.id}`, undefined],
      ["GET", `/v1/destinations/${d.id}/log`, undefined],
      ["GET", `/v1/destinations/${d.id}/dead-letters`, undefined],
      ["POST", `/v1/destinations/${d.id}/dead-letters/replay`, undefined],
      ["POST", `/v1/destinations/${d.id}/reconcile`, undefined],
    ];
    for (const [method, path, body] of routes) {
      await expectError(await call(ws, method, path, body, ws.writeKey), 401, "authentication_error");
      const anonymous = await api(path, undefined, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await expectError(anonymous, 401, "authentication_error");
    }
    expect(await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json()).toEqual(d);
  });
});

describe("GET /v1/destinations/:id/log", () => {
  it("pages newest first with an opaque cursor, filters by profile, and refuses a foreign cursor", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    const entry = (i: number): NewSyncLogRow => ({
      destinationId: d.id,
      at: Date.UTC(2025, 0, 1, 0, 0, i),
      profileId: i % 2 === 0 ? "prf_even" : "prf_odd",
      audience: "vip",
      action: i === 4 ? "remove" : "add",
      outcome: i === 3 ? "retry" : "ok",
      attempts: i === 3 ? 2 : 1,
      error: i === 3 ? "https://hooks.example.com answered 503" : null,
    });
    await recordDrain(env.DB, d.id, { ...emptyDrain, log: [0, 1, 2, 3, 4].map(entry), at: Date.now() });
    const log = async (query: string) => {
      const res = await call(ws, "GET", `/v1/destinations/${d.id}/log${query}`);
      expect(res.status, await res.clone().text()).toBe(200);
      return res.json<SyncLogPage>();
    };
    const second = (i: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString();

    const first = await log("?limit=2");
    expect(first.data).toEqual([
      {
        at: second(4),
        profile_id: "prf_even",
        audience: "vip",
        action: "remove",
        outcome: "ok",
        attempts: 1,
        error: null,
      },
      {
        at: second(3),
        profile_id: "prf_odd",
        audience: "vip",
        action: "add",
        outcome: "retry",
        attempts: 2,
        error: "https://hooks.example.com answered 503",
      },
    ]);
    expect(first.cursor.has_more).toBe(true);
    const next = await log(`?limit=2&cursor=${first.cursor.next}`);
    expect(next.data.map((e) => e.at)).toEqual([second(2), second(1)]);
    const last = await log(`?limit=2&cursor=${next.cursor.next}`);
    expect(last).toEqual({
      data: [expect.objectContaining({ at: second(0) })],
      cursor: { has_more: false, next: null },
    });

    const even = await log("?profile=prf_even");
    expect(even.data.map((e) => e.at)).toEqual([second(4), second(2), second(0)]);
    expect(even.cursor).toEqual({ has_more: false, next: null });

    const bad = "cursor is not one this listing issued: pass cursor.next from the previous page";
    for (const cursor of ["x!", btoa("prf_123"), btoa("log:0")]) {
      await expectError(
        await call(ws, "GET", `/v1/destinations/${d.id}/log?cursor=${encodeURIComponent(cursor)}`),
        400,
        "validation_error",
        bad,
      );
    }
    await expectError(
      await call(ws, "GET", `/v1/destinations/${d.id}/log?limit=1001`),
      400,
      "validation_error",
      'limit must be a whole number from 1 to 1000, got "1001"',
    );
  });
});

describe("GET /v1/destinations/:id/log?profile=", () => {
  it("takes type:value and a merged-away id as the profile API does, and names the forms it takes", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    const at = "2025-01-01T00:00:00.000Z";
    const [visitor, user] = (await store(ws.workspaceId, [
      track("Viewed", at, { anonymousId: "anon-u1" }),
      identify({ plan: "pro" }, at, { userId: "u1" }),
    ])) as string[];
    const entry = (profileId: string, i: number): NewSyncLogRow => ({
      destinationId: d.id,
      at: i,
      profileId,
      audience: "vip",
      action: "add",
      outcome: "ok",
      attempts: 1,
    });
    await recordDrain(env.DB, d.id, {
      ...emptyDrain,
      log: [entry(user, 1), entry("prf_other", 2), entry(visitor, 3)],
      at: Date.now(),
    });
    const logged = async (profile: string) => {
      const res = await call(ws, "GET", `/v1/destinations/${d.id}/log?profile=${encodeURIComponent(profile)}`);
      expect(res.status, await res.clone().text()).toBe(200);
      return (await res.json<SyncLogPage>()).data.map((e) => e.profile_id);
    };
    expect(await logged("user_id:u1")).toEqual([user]);
    expect(await logged(user)).toEqual([user]);

    // One message carrying both ids merges the newer profile into the older one: both ids now name the survivor,
    // whose log holds what was synced for the profile merged into it.
    await store(ws.workspaceId, [track("Checkout", at, { anonymousId: "anon-u1", userId: "u1" })]);
    expect(await logged("user_id:u1")).toEqual([visitor, user]);
    expect(await logged(user)).toEqual([visitor, user]);
    // An id no profile has any more (erased) still reads what was logged for it.
    expect(await logged("prf_other")).toEqual(["prf_other"]);

    await expectError(
      await call(ws, "GET", `/v1/destinations/${d.id}/log?profile=u1`),
      400,
      "validation_error",
      'Profile ref "u1" is not a profile id or type:value: use a profile id (prf_…) or type:value, e.g. email:jane%40example.com or user_id:42',
    );
    await expectError(
      await call(ws, "GET", `/v1/destinations/${d.id}/log?profile=user_id:nobody`),
      404,
      "not_found",
      "No profile matches user_id:nobody",
    );
  });
});

describe("dead letters", () => {
  it("lists them newest first, replays them into the destination's object and then lists none", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    const ops = [membership("prf_a", "vip", 3), membership("prf_b", "vip", 7)];
    await recordDrain(env.DB, d.id, {
      ...emptyDrain,
      deadLetters: ops.map((op) => ({
        profileId: op.profileId,
        op: JSON.stringify(op),
        error: "invalid_payload: 400",
      })),
      failed: 2,
      lastError: "invalid_payload: 400",
      at: Date.UTC(2025, 0, 2),
    });
    const listed = await call(ws, "GET", `/v1/destinations/${d.id}/dead-letters`);
    expect(listed.status).toBe(200);
    const { data } = await listed.json<DeadLetterList>();
    expect(data.map(({ id: _id, ...rest }) => rest)).toEqual([
      { profile_id: "prf_b", error: "invalid_payload: 400", created_at: "2025-01-02T00:00:00.000Z", op: ops[1] },
      { profile_id: "prf_a", error: "invalid_payload: 400", created_at: "2025-01-02T00:00:00.000Z", op: ops[0] },
    ]);
    expect(data[0].id).toBeGreaterThan(data[1].id);
    const before = await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json<Destination>();
    expect(before.status).toMatchObject({ failed: 2, dead_letters: 2, last_error: "invalid_payload: 400", pending: 0 });

    // The object has synced something newer for prf_a since: its dead letter is stale, marked replayed, not sent.
    await markSynced(d.id, "prf_a", "vip", 10);
    const replay = await call(ws, "POST", `/v1/destinations/${d.id}/dead-letters/replay`);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ replayed: 2 });
    expect(await (await call(ws, "GET", `/v1/destinations/${d.id}/dead-letters`)).json()).toEqual({
      data: [],
      cursor: { has_more: false, next: null },
    });
    expect(await pending(d.id)).toBe(1);
    const after = await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json<Destination>();
    expect(after.status).toMatchObject({ pending: 1, dead_letters: 0, failed: 2 });
    // Nothing left to replay: a second call queues nothing.
    expect(await (await call(ws, "POST", `/v1/destinations/${d.id}/dead-letters/replay`)).json()).toEqual({
      replayed: 0,
    });
  });
});

describe("GET /v1/destinations/:id/dead-letters?limit=&cursor=", () => {
  it("pages newest first with an opaque cursor, and refuses a bad limit and another listing's cursor", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    const ops = ["prf_1", "prf_2", "prf_3"].map((id, i) => membership(id, "vip", i + 1));
    await recordDrain(env.DB, d.id, {
      ...emptyDrain,
      deadLetters: ops.map((op) => ({
        profileId: op.profileId,
        op: JSON.stringify(op),
        error: "invalid_payload: 400",
      })),
      failed: 3,
      at: Date.UTC(2025, 0, 2),
    });
    const page = async (query: string) => {
      const res = await call(ws, "GET", `/v1/destinations/${d.id}/dead-letters${query}`);
      expect(res.status, await res.clone().text()).toBe(200);
      return res.json<DeadLetterList>();
    };
    const first = await page("?limit=2");
    expect(first.data.map((l) => l.profile_id)).toEqual(["prf_3", "prf_2"]);
    expect(first.cursor).toEqual({ has_more: true, next: expect.any(String) });
    const second = await page(`?limit=2&cursor=${first.cursor.next}`);
    expect(second.data.map((l) => l.profile_id)).toEqual(["prf_1"]);
    expect(second.cursor).toEqual({ has_more: false, next: null });
    expect((await page("")).data).toHaveLength(3);

    await expectError(await call(ws, "GET", `/v1/destinations/${d.id}/dead-letters?limit=0`), 400, "validation_error");
    const log = await (await call(ws, "GET", `/v1/destinations/${d.id}/log?limit=1`)).json<SyncLogPage>();
    const foreign = log.cursor.next ?? btoa("log:1");
    await expectError(
      await call(ws, "GET", `/v1/destinations/${d.id}/dead-letters?cursor=${foreign}`),
      400,
      "validation_error",
      "cursor is not one this listing issued: pass cursor.next from the previous page",
    );
  });
});

describe("a replayed repair", () => {
  it("is sent when it restates what was synced, and not when something newer was synced since", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    await markSynced(d.id, "prf_same", "vip", 5);
    await markSynced(d.id, "prf_newer", "vip", 9);
    const repair = (profileId: string, seq: number): SyncOp => ({ ...membership(profileId, "vip", seq), repair: true });
    const { queued } = await destinationStub(env, d.id).enqueue(d.id, [repair("prf_same", 5), repair("prf_newer", 5)], {
      replay: true,
    });
    expect(queued).toBe(1);
  });
});

describe("POST /v1/destinations/:id/reconcile", () => {
  it("queues the members the vendor lacks, read from their profiles, and exits for those it lists wrongly", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws, { traits: ["first_name", "missing"] });
    const now = new Date().toISOString();
    const [ann, bob] = (await store(ws.workspaceId, [
      identify({ plan: "pro", email: "Ann@Example.com", first_name: "Ann" }, now, { userId: "ann" }),
      identify({ plan: "pro", email: "bob@example.com" }, now, { userId: "bob" }),
    ])) as string[];
    await memberOf(ws.workspaceId, "vip", ann);
    await memberOf(ws.workspaceId, "vip", bob);
    // Bob's entry was synced: nothing to repair. A profile that is no member is still listed: it must go.
    await markSynced(d.id, bob, "vip", 1);
    await markSynced(d.id, "prf_left", "vip", 1);
    expect(await pending(d.id)).toBe(0);

    // Disabled destinations are not reconciled (nothing is sent to them either).
    const idle = await call(ws, "POST", `/v1/destinations/${d.id}/reconcile`);
    expect(await idle.json()).toEqual({ status: "started", queued: 0, cursor: { has_more: false, next: null } });
    await env.DB.prepare("UPDATE destinations SET enabled = 1 WHERE id = ?").bind(d.id).run();
    // Held at the object: the customer's endpoint is not reachable in this test, and nothing may be lost.
    await env.DB.prepare("UPDATE destinations SET config = ? WHERE id = ?")
      .bind(JSON.stringify({ ...HOOK, url: "http://receiver.test/never-answered" }), d.id)
      .run();
    await fetch("http://receiver.test/__mock/answers?path=/never-answered", {
      method: "POST",
      body: JSON.stringify([{ status: 503, headers: { "retry-after": "600" } }]),
    });

    const res = await call(ws, "POST", `/v1/destinations/${d.id}/reconcile`);
    expect(res.status, await res.clone().text()).toBe(202);
    expect(await res.json()).toEqual({ status: "started", queued: 2, cursor: { has_more: false, next: null } });
    const ops = await runInDurableObject<DestinationDO, SyncOp[]>(env.DESTINATION.getByName(d.id), (_o, state) =>
      state.storage.sql
        .exec<{ op: string }>("SELECT op FROM pending ORDER BY profile_id = 'prf_left'")
        .toArray()
        .map((r) => JSON.parse(r.op)),
    );
    expect(ops).toHaveLength(2);
    expect(ops[0]).toMatchObject({
      kind: "membership",
      profileId: ann,
      audience: "vip",
      member: true,
      email: "ann@example.com",
      traits: { first_name: "Ann" },
      profile: { id: ann, traits: { plan: "pro", first_name: "Ann" } },
    });
    expect(ops[0].kind === "membership" && ops[0].profile.identifiers).toContainEqual({
      type: "user_id",
      value: "ann",
    });
    expect(ops[1]).toMatchObject({ kind: "membership", profileId: "prf_left", audience: "vip", member: false });
    expect((await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json<Destination>()).status.pending).toBe(2);
  });

  it("queues nothing for an audience without members, and refuses a cursor it did not issue", async () => {
    const ws = await seedWorkspace();
    const d = await hook(ws);
    const res = await call(ws, "POST", `/v1/destinations/${d.id}/reconcile`);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: "started", queued: 0, cursor: { has_more: false, next: null } });
    expect(await pending(d.id)).toBe(0);
    await expectError(
      await call(ws, "POST", `/v1/destinations/${d.id}/reconcile?cursor=${btoa(JSON.stringify(["ghost", null]))}`),
      400,
      "validation_error",
    );
  });
});

describe("a destination's config settings", () => {
  /** A config of each type with every setting it has (DESIGN §7), as the console's form sends them. */
  const EVERY_SETTING: Record<string, Record<string, string>> = {
    hubspot: {
      access_token: "pat-na1-0123456789abcdef",
      base_url: "https://api.hubapi.com",
      client_secret: "hubspot_client_secret_0123",
    },
    mailchimp: {
      api_key: "0123456789abcdef0123456789abcdef-us21",
      list_id: "a6b5da1054",
      base_url: "https://us21.api.mailchimp.com/3.0",
      status_if_new: "pending",
      webhook_secret: "mailchimp_webhook_secret_0123",
    },
    klaviyo: {
      api_key: "pk_0123456789abcdef",
      base_url: "https://a.klaviyo.com",
      revision: "2026-07-15",
      webhook_secret: "klaviyo_webhook_secret_0123",
    },
    marketo: {
      base_url: "https://123-ABC-456.mktorest.com",
      client_id: "marketo-client-id",
      client_secret: "marketo_client_secret_0123",
      folder_id: "13",
    },
    webhook: HOOK,
  };
  const SECRETS: Record<string, string[]> = {
    hubspot: ["access_token", "client_secret"],
    mailchimp: ["api_key", "webhook_secret"],
    klaviyo: ["api_key", "webhook_secret"],
    marketo: ["client_secret"],
    webhook: ["secret"],
  };

  it.each(Object.keys(EVERY_SETTING))(
    "takes every %s setting, masks each secret, and takes the config back as read",
    async (type) => {
      const ws = await seedWorkspace();
      const config = EVERY_SETTING[type];
      const d = await created(ws, { type, name: type, config, audiences: [], enabled: false });
      const masked = Object.fromEntries(SECRETS[type].map((field) => [field, maskSecret(config[field])]));
      expect(d.config).toEqual({ ...config, ...masked });
      const res = await call(ws, "PUT", `/v1/destinations/${d.id}`, { config: d.config });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(JSON.parse((await findDestinationById(env.DB, d.id))?.config ?? "{}")).toEqual(config);
    },
  );

  it.each([
    ["hubspot", { access_token: "pat-na1-0123456789abcdef", clientSecret: "hubspot_client_secret" }, "clientSecret"],
    ["mailchimp", { api_key: "0123456789abcdef-us21", list_id: "a6b5da1054", statusIfNew: "pending" }, "statusIfNew"],
    [
      "marketo",
      { base_url: "https://1-A-2.mktorest.com", client_id: "i", client_secret: "s", folderId: 13 },
      "folderId",
    ],
    ["webhook", { url: HOOK.url, sceret: SECRET }, "sceret"],
  ])("answers 400 naming a misspelled %s setting, and creates nothing", async (type, config, key) => {
    const ws = await seedWorkspace();
    const vendor = { hubspot: "HubSpot", mailchimp: "Mailchimp", marketo: "Marketo", webhook: "webhook" }[type];
    await expectError(
      await call(ws, "POST", "/v1/destinations", { type, name: "typo", config, audiences: [] }),
      400,
      "validation_error",
      `config.${key}: is not a ${vendor} setting`,
    );
    expect((await (await call(ws, "GET", "/v1/destinations")).json<{ data: unknown[] }>()).data).toEqual([]);
  });

  it("answers 400 on PUT for a misspelled setting and a secret that is not a string, and keeps the config", async () => {
    const ws = await seedWorkspace();
    const config = { api_key: "0123456789abcdef-us21", list_id: "a6b5da1054" };
    const d = await created(ws, { type: "mailchimp", name: "mc", config, audiences: [], enabled: false });
    const put = (changes: unknown) => call(ws, "PUT", `/v1/destinations/${d.id}`, { config: changes });
    await expectError(
      await put({ statusIfNew: "pending" }),
      400,
      "validation_error",
      "config.statusIfNew: is not a Mailchimp setting",
    );
    await expectError(
      await put({ webhook_secret: 5 }),
      400,
      "validation_error",
      "config.webhook_secret: must be a string",
    );
    expect(JSON.parse((await findDestinationById(env.DB, d.id))?.config ?? "{}")).toEqual(config);
    const hubspot = await call(ws, "POST", "/v1/destinations", {
      type: "hubspot",
      name: "hs",
      config: { access_token: "pat-na1-0123456789abcdef", client_secret: 5 },
      audiences: [],
    });
    await expectError(hubspot, 400, "validation_error", "config.client_secret: must be a string");
  });
});

describe("maskSecret", () => {
  it("shows the last 4 characters of a long secret and nothing of a short one", () => {
    expect(maskSecret("pat-na1-0123456789abcdef")).toBe("…cdef");
    expect(maskSecret("short-key")).toBe("…");
  });
});

/** Records in the destination's object that `profileId`'s membership of `audienceKey` was synced at `seq`. */
async function markSynced(destinationId: string, profileId: string, audienceKey: string, seq: number): Promise<void> {
  await destinationStub(env, destinationId).pendingCount(); // wakes the object, which creates its tables
  await runInDurableObject<DestinationDO, void>(env.DESTINATION.getByName(destinationId), (_o, state) => {
    state.storage.sql.exec(
      "INSERT INTO synced (profile_id, audience, seq, member) VALUES (?, ?, ?, 1)",
      profileId,
      audienceKey,
      seq,
    );
  });
}

/** Waits until the profile's object has delivered its entry into `audienceKey` to D1 (the outbox runs after commit). */
async function memberOf(workspaceId: string, audienceKey: string, profileId: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const rows = await listMembers(env.DB, workspaceId, "audience", audienceKey, { limit: 10 });
    if (rows.some((r) => r.profileId === profileId)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${profileId} never entered ${audienceKey}`);
}
