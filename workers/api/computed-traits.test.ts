import { env } from "cloudflare:workers";
import type { AudienceMembersPage, AudiencePreview, ComputedTrait } from "@tessera/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { findDefinition, readDefinitionsVersion } from "../../d1/queries/definitions";
import { applyMemberChanges } from "../../d1/queries/members";
import { track } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";

type Workspace = Awaited<ReturnType<typeof seedWorkspace>>;

function call(ws: Workspace, method: string, path: string, body?: unknown, key = ws.secretKey): Promise<Response> {
  return api(path, bearer(key), {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function created(ws: Workspace, body: Record<string, unknown>): Promise<ComputedTrait> {
  const res = await call(ws, "POST", "/v1/computed-traits", body);
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json<ComputedTrait>();
}

async function keys(ws: Workspace): Promise<string[]> {
  const res = await call(ws, "GET", "/v1/computed-traits");
  expect(res.status).toBe(200);
  return (await res.json<{ data: ComputedTrait[] }>()).data.map((t) => t.key);
}

async function expectError(res: Response, status: number, code: string, message?: string): Promise<void> {
  const body = await res.json<{ error: { code: string; message: string } }>();
  expect({ status: res.status, ...body.error }).toEqual({ status, code, message: message ?? body.error.message });
}

const LTV = { op: "sum", event: "Order Completed", property: "revenue" };
const ORDERS = { op: "count", event: "Order Completed", within: "365d" };
const TRAIT_OPS = "count, sum, avg, min, max, most_frequent, first, last, unique_list, unique_count";
const OPS = "eq, neq, gt, gte, lt, lte, contains, starts_with, exists, not_exists, in";

describe("computed traits API: create, read, list, change, delete", () => {
  it("creates a computed trait at version 1 and reads it back", async () => {
    const ws = await seedWorkspace();
    const trait = await created(ws, { key: "lifetime_value", name: "Lifetime value", definition: LTV });
    expect(trait).toEqual({
      key: "lifetime_value",
      name: "Lifetime value",
      description: null,
      definition: LTV,
      version: 1,
      created_at: trait.created_at,
      updated_at: trait.created_at,
      size: 0,
      status: { state: "ready", processed: 0, total: 0 },
    });
    expect(await (await call(ws, "GET", "/v1/computed-traits/lifetime_value")).json()).toEqual(trait);
    await created(ws, { key: "order_count", definition: ORDERS });
    await created(ws, { key: "avg_order", definition: { ...LTV, op: "avg" } });
    expect(await keys(ws)).toEqual(["avg_order", "lifetime_value", "order_count"]);
  });

  it("answers 409 conflict for a key the workspace already has", async () => {
    const ws = await seedWorkspace();
    await created(ws, { key: "lifetime_value", definition: LTV });
    await expectError(
      await call(ws, "POST", "/v1/computed-traits", { key: "lifetime_value", definition: ORDERS }),
      409,
      "conflict",
      'Computed trait "lifetime_value" already exists',
    );
    expect(
      (await (await call(ws, "GET", "/v1/computed-traits/lifetime_value")).json<ComputedTrait>()).definition,
    ).toEqual(LTV);
  });

  it("bumps the version on every change, and rebuilds only when the definition changes", async () => {
    const ws = await seedWorkspace();
    await created(ws, { key: "lifetime_value", definition: LTV });
    const version = await readDefinitionsVersion(env.DB, ws.workspaceId);
    const renamed = await call(ws, "PUT", "/v1/computed-traits/lifetime_value", { name: "LTV", definition: LTV });
    expect(await renamed.json()).toMatchObject({ name: "LTV", definition: LTV, version: 2 });
    expect(await readDefinitionsVersion(env.DB, ws.workspaceId)).toBe(version);

    const windowed = { ...LTV, within: "365d" };
    const changed = await call(ws, "PUT", "/v1/computed-traits/lifetime_value", { definition: windowed });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ name: "LTV", definition: windowed, version: 3 });
    expect(await readDefinitionsVersion(env.DB, ws.workspaceId)).toBe(version + 1);
    const row = await findDefinition(env.DB, {
      workspaceId: ws.workspaceId,
      kind: "computed_trait",
      key: "lifetime_value",
    });
    expect(row?.buildVersion).toBe(version + 1);
  });

  it("deletes a computed trait and its member rows", async () => {
    const ws = await seedWorkspace();
    await created(ws, { key: "lifetime_value", definition: LTV });
    await applyMemberChanges(env.DB, ws.workspaceId, newId("prf"), [
      { kind: "computed_trait", key: "lifetime_value", member: true, at: Date.now(), seq: 1 },
    ]);
    const version = await readDefinitionsVersion(env.DB, ws.workspaceId);
    expect((await call(ws, "DELETE", "/v1/computed-traits/lifetime_value")).status).toBe(204);
    await expectError(
      await call(ws, "GET", "/v1/computed-traits/lifetime_value"),
      404,
      "not_found",
      'No computed trait "lifetime_value" in this workspace',
    );
    expect(await readDefinitionsVersion(env.DB, ws.workspaceId)).toBe(version + 1);
    expect((await created(ws, { key: "lifetime_value", definition: LTV })).size).toBe(0);
  });

  it("refuses with 409 to delete a computed trait an audience refers to, naming the audience", async () => {
    const ws = await seedWorkspace();
    await created(ws, { key: "lifetime_value", definition: LTV });
    const audience = await call(ws, "POST", "/v1/audiences", {
      key: "big_spenders",
      definition: { computed: "lifetime_value", op: "gte", value: 1000 },
    });
    expect(audience.status).toBe(201);
    await expectError(
      await call(ws, "DELETE", "/v1/computed-traits/lifetime_value"),
      409,
      "conflict",
      'Audience "big_spenders" refers to computed trait "lifetime_value": change or delete "big_spenders" first',
    );
    expect(await keys(ws)).toEqual(["lifetime_value"]);
    // An audience of the same key is a different definition: it does not hold the computed trait.
    await created(ws, { key: "big_spenders", definition: ORDERS });
    expect((await call(ws, "DELETE", "/v1/audiences/big_spenders")).status).toBe(204);
    expect((await call(ws, "DELETE", "/v1/computed-traits/lifetime_value")).status).toBe(204);
    expect(await keys(ws)).toEqual(["big_spenders"]);
  });
});

describe("invalid computed-trait definitions", () => {
  let ws: Workspace;
  let version: number;
  beforeAll(async () => {
    ws = await seedWorkspace();
    await created(ws, { key: "lifetime_value", definition: LTV });
    version = await readDefinitionsVersion(env.DB, ws.workspaceId);
  });

  const cases: Array<[string, string, Record<string, unknown>, string]> = [
    ["POST", "/v1/computed-traits", { key: "x" }, "definition: is required"],
    ["POST", "/v1/computed-traits", { key: "x", definition: [] }, "definition: must be an object, not an array"],
    [
      "POST",
      "/v1/computed-traits",
      { key: "x", definition: { op: "sum", event: "Order Completed" } },
      'definition.property: is required for "sum"',
    ],
    [
      "POST",
      "/v1/computed-traits",
      { key: "x", definition: { event: "Order Completed" } },
      `definition.op: is required (one of ${TRAIT_OPS})`,
    ],
    [
      "POST",
      "/v1/computed-traits",
      { key: "x", definition: { ...LTV, op: "median" } },
      `definition.op: "median" is not a computed-trait op (one of ${TRAIT_OPS})`,
    ],
    [
      "POST",
      "/v1/computed-traits",
      { key: "x", definition: { ...LTV, window: "30d" } },
      "definition.window: is not a field (a computed trait has op, event, property, where, within)",
    ],
    [
      "POST",
      "/v1/computed-traits",
      { key: "x", definition: { ...LTV, within: "1y" } },
      'definition.within: "1y" is not a duration',
    ],
    [
      "POST",
      "/v1/computed-traits",
      { key: "x", definition: { ...LTV, event: "" } },
      'definition.event: must be an event name, or "*" for any track event',
    ],
    [
      "POST",
      "/v1/computed-traits",
      { key: "x", definition: { ...LTV, where: [{ property: "channel", op: "is", value: "pos" }] } },
      `definition.where[0].op: "is" is not an operator (one of ${OPS})`,
    ],
    [
      "POST",
      "/v1/computed-traits",
      { key: "x", definition: { ...LTV, property: "items..sku" } },
      'definition.property: "items..sku" has an empty segment',
    ],
    [
      "PUT",
      "/v1/computed-traits/lifetime_value",
      { definition: { op: "max", event: "Order Completed" } },
      'definition.property: is required for "max"',
    ],
    [
      "POST",
      "/v1/computed-traits/preview",
      { definition: { ...LTV, within: "0s" } },
      'definition.within: "0s" is an empty window; it must be longer than zero',
    ],
  ];

  const named = cases.map(([method, path, body, message]) => ({ method, path, body, message }));
  it.each(named)("$method $path answers 400 “$message” and saves nothing", async ({ method, path, body, message }) => {
    await expectError(await call(ws, method, path, body), 400, "validation_error", message);
    expect(await keys(ws)).toEqual(["lifetime_value"]);
    expect(await readDefinitionsVersion(env.DB, ws.workspaceId)).toBe(version);
    const trait = await (await call(ws, "GET", "/v1/computed-traits/lifetime_value")).json<ComputedTrait>();
    expect(trait).toMatchObject({ definition: LTV, version: 1 });
  });
});

describe("GET /v1/computed-traits/:key/members", () => {
  it("pages through the profiles that have a value; size counts them", async () => {
    const ws = await seedWorkspace();
    await created(ws, { key: "lifetime_value", definition: LTV });
    const ids = Array.from({ length: 3 }, () => newId("prf")).sort();
    for (const id of ids) {
      await applyMemberChanges(env.DB, ws.workspaceId, id, [
        { kind: "computed_trait", key: "lifetime_value", member: true, at: Date.UTC(2025, 5, 1), seq: 1 },
      ]);
    }
    // An audience under the same key has members of its own, which are not the computed trait's.
    const audience = await call(ws, "POST", "/v1/audiences", {
      key: "lifetime_value",
      definition: { trait: "plan", op: "eq", value: "pro" },
    });
    expect(audience.status, await audience.clone().text()).toBe(201);
    await applyMemberChanges(env.DB, ws.workspaceId, newId("prf"), [
      { kind: "audience", key: "lifetime_value", member: true, at: Date.now(), seq: 1 },
    ]);
    const audienceSize = await (await call(ws, "GET", "/v1/audiences/lifetime_value")).json<{ size: number }>();
    expect(audienceSize.size).toBe(1);
    const first = await (
      await call(ws, "GET", "/v1/computed-traits/lifetime_value/members?limit=2")
    ).json<AudienceMembersPage>();
    expect(first.data.map((m) => m.profile_id)).toEqual(ids.slice(0, 2));
    expect(first.data[0].since).toBe("2025-06-01T00:00:00.000Z");
    expect(first.cursor.has_more).toBe(true);
    const rest = await (
      await call(ws, "GET", `/v1/computed-traits/lifetime_value/members?limit=2&cursor=${first.cursor.next}`)
    ).json<AudienceMembersPage>();
    expect(rest).toEqual({
      data: [{ profile_id: ids[2], since: "2025-06-01T00:00:00.000Z" }],
      cursor: { has_more: false, next: null },
    });
    expect((await (await call(ws, "GET", "/v1/computed-traits/lifetime_value")).json<ComputedTrait>()).size).toBe(3);
    await expectError(await call(ws, "GET", "/v1/computed-traits/ghost/members"), 404, "not_found");
  });
});

describe("POST /v1/computed-traits/preview", () => {
  it("counts the live profiles that would hold a value (not null, not 0, not empty), saving nothing", async () => {
    const ws = await seedWorkspace();
    const at = "2025-03-01T00:00:00.000Z";
    const buyers = await store(ws.workspaceId, [
      track("Order Completed", at, { anonymousId: "b-1", properties: { revenue: 30 } }),
      track("Order Completed", at, { anonymousId: "b-2", properties: { revenue: 70 } }),
    ]);
    await store(ws.workspaceId, [
      track("Order Completed", at, { anonymousId: "no-revenue" }),
      track("Page Viewed", at, { anonymousId: "browser" }),
    ]);
    const preview = async (definition: unknown) => {
      const res = await call(ws, "POST", "/v1/computed-traits/preview", { definition });
      expect(res.status).toBe(200);
      return res.json<AudiencePreview>();
    };
    expect(await preview({ op: "max", event: "Order Completed", property: "revenue" })).toEqual({
      size: 2,
      sample: (buyers as string[]).sort(),
    });
    // A count of 0 is a value of the trait but holds nothing: only the three profiles with an order count.
    expect((await preview({ op: "count", event: "Order Completed" })).size).toBe(3);
    expect(await keys(ws)).toEqual([]);
  });
});

describe("computed traits: workspaces and credentials", () => {
  it("keeps each workspace's computed traits to itself", async () => {
    const a = await seedWorkspace("a");
    const b = await seedWorkspace("b");
    await created(a, { key: "lifetime_value", definition: LTV });
    expect(await keys(b)).toEqual([]);
    for (const [method, body] of [
      ["GET", undefined],
      ["PUT", { definition: ORDERS }],
      ["DELETE", undefined],
    ] as const) {
      await expectError(await call(b, method, "/v1/computed-traits/lifetime_value", body), 404, "not_found");
    }
    await expectError(
      await call(b, "POST", "/v1/audiences", {
        key: "big",
        definition: { computed: "lifetime_value", op: "gt", value: 1 },
      }),
      400,
      "validation_error",
      'definition.computed: unknown computed trait "lifetime_value"',
    );
    expect((await (await call(a, "GET", "/v1/computed-traits/lifetime_value")).json<ComputedTrait>()).version).toBe(1);
  });

  it("refuses a write key with 401", async () => {
    const ws = await seedWorkspace();
    await expectError(
      await call(ws, "GET", "/v1/computed-traits", undefined, ws.writeKey),
      401,
      "authentication_error",
    );
    await expectError(
      await call(ws, "POST", "/v1/computed-traits", { key: "x", definition: LTV }, ws.writeKey),
      401,
      "authentication_error",
    );
    expect(await keys(ws)).toEqual([]);
  });
});
