import { createExecutionContext, createMessageBatch, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Audience, BackfillMessage, Profile } from "@tessera/protocol";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { orm } from "../../d1/client";
import { definitions, workspaces } from "../../d1/schema";
import worker from "../index";
import { identify } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import {
  MAX_BUILD_RUNS,
  queueUnqueuedBackfills,
  restartStalledBuilds,
  STALLED_AFTER_MS,
  UNQUEUED_AFTER_MS,
} from "./backfill";
import { backfillDepsFor, handleBackfill } from "./backfill-consumer";

const PRO = { trait: "plan", op: "eq", value: "pro" };

/** `method path` through the Worker's own fetch handler, with `overrides` in its environment. */
async function callWorker(
  secretKey: string,
  method: string,
  path: string,
  overrides: Partial<Env> = {},
  body?: unknown,
): Promise<Response> {
  const request = new Request(`http://x${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: bearer(secretKey) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** `POST /v1/audiences` of `key` (plan is pro) with `overrides` in the Worker's environment. */
function createAudience(secretKey: string, key: string, overrides: Partial<Env> = {}): Promise<Response> {
  return callWorker(secretKey, "POST", "/v1/audiences", overrides, { key, definition: PRO });
}

async function rebuildUnqueuedVersion(workspaceId: string): Promise<number | null | undefined> {
  const row = await orm(env.DB)
    .select({ version: workspaces.rebuildUnqueuedVersion })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId))
    .get();
  return row?.version;
}

async function queuedAt(workspaceId: string, key: string): Promise<number | null | undefined> {
  const row = await orm(env.DB)
    .select({ at: definitions.buildQueuedAt })
    .from(definitions)
    .where(and(eq(definitions.workspaceId, workspaceId), eq(definitions.key, key)))
    .get();
  return row?.at;
}

/** The audience's build status and size, as the API shows them. */
async function statusOf(secretKey: string, key: string) {
  const audience = await (await api(`/v1/audiences/${key}`, bearer(secretKey))).json<Audience>();
  return { ...audience.status, size: audience.size };
}

/** A workspace with one profile on the pro plan. */
async function workspaceWithOnePro() {
  const ws = await seedWorkspace("unqueued");
  await store(ws.workspaceId, [
    identify({ plan: "pro" }, "2026-01-01T00:00:00.000Z", { userId: `u-${ws.workspaceId}` }),
  ]);
  return ws;
}

describe("an audience whose backfill cannot be queued when it is saved", () => {
  it("is answered 201 building, and the scheduled sweep queues its build, which then completes", async () => {
    const ws = await workspaceWithOnePro();
    const refusing = { send: () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue;

    const res = await createAudience(ws.secretKey, "pro", { BACKFILL_QUEUE: refusing });
    expect(res.status, await res.clone().text()).toBe(201);
    expect((await res.json<Audience>()).status).toEqual({ state: "building", processed: 0, total: 1 });
    expect(await queuedAt(ws.workspaceId, "pro")).toBeNull();

    // A sweep right away leaves it to the request that may still be sending it.
    await queueUnqueuedBackfills(env);
    expect(await queuedAt(ws.workspaceId, "pro")).toBeNull();

    expect(await queueUnqueuedBackfills(env, Date.now() + UNQUEUED_AFTER_MS + 1)).toBeGreaterThanOrEqual(1);
    expect(await queuedAt(ws.workspaceId, "pro")).toEqual(expect.any(Number));
    await expect
      .poll(() => statusOf(ws.secretKey, "pro"), { timeout: 20_000, interval: 100 })
      .toEqual({ state: "ready", processed: 1, total: 1, size: 1 });
  });

  it("shows in a profile read at once, before its build has run", async () => {
    const ws = await workspaceWithOnePro();
    const refusing = { send: () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue;
    expect((await createAudience(ws.secretKey, "pro", { BACKFILL_QUEUE: refusing })).status).toBe(201);
    expect(await queuedAt(ws.workspaceId, "pro")).toBeNull();

    const read = await api(`/v1/profiles/user_id:u-${ws.workspaceId}`, bearer(ws.secretKey));
    expect((await read.json<Profile>()).audiences.map((a) => a.key)).toEqual(["pro"]);
    // The read's membership reaches the member list too, before any build.
    await expect
      .poll(async () => (await statusOf(ws.secretKey, "pro")).size, { timeout: 20_000, interval: 100 })
      .toBe(1);
  });

  it("is not queued twice: a build the request queued is recorded, and the sweep leaves it alone", async () => {
    const ws = await workspaceWithOnePro();
    const sent: unknown[] = [];
    const recording = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;

    expect((await createAudience(ws.secretKey, "pro", { BACKFILL_QUEUE: recording })).status).toBe(201);
    expect(sent).toHaveLength(1);
    expect(await queuedAt(ws.workspaceId, "pro")).toEqual(expect.any(Number));

    await queueUnqueuedBackfills({ ...env, BACKFILL_QUEUE: recording }, Date.now() + UNQUEUED_AFTER_MS + 1);
    expect(sent.filter((m) => (m as { workspaceId: string }).workspaceId === ws.workspaceId)).toHaveLength(1);
  });
});

describe("a deleted audience whose rebuild cannot be queued", () => {
  it("is recorded on the workspace, and the sweep queues the rebuild: the profile leaves the audience", async () => {
    const ws = await workspaceWithOnePro();
    const profileAudiences = async () =>
      (await api(`/v1/profiles/user_id:u-${ws.workspaceId}`, bearer(ws.secretKey)))
        .json<Profile>()
        .then((p) => p.audiences.map((a) => a.key));
    expect((await createAudience(ws.secretKey, "pro")).status).toBe(201);
    await expect.poll(profileAudiences, { timeout: 20_000, interval: 100 }).toEqual(["pro"]);

    const refusing = { send: () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue;
    const deleted = await callWorker(ws.secretKey, "DELETE", "/v1/audiences/pro", { BACKFILL_QUEUE: refusing });
    expect(deleted.status, await deleted.clone().text()).toBeLessThan(300);
    expect(await rebuildUnqueuedVersion(ws.workspaceId)).toEqual(expect.any(Number));
    // No rebuild reached the profile, yet a read answers for the definitions as they are: it evaluates first.
    expect(await profileAudiences()).toEqual([]);

    expect(await queueUnqueuedBackfills(env)).toBeGreaterThanOrEqual(1);
    expect(await rebuildUnqueuedVersion(ws.workspaceId)).toBeNull();
    await expect.poll(profileAudiences, { timeout: 20_000, interval: 100 }).toEqual([]);
  });
});

/**
 * A queue that takes every message and delivers none (a local queue that restarted, messages dropped for good),
 * keeping those of `workspaceId`: the sweeps reach every workspace of this file.
 */
function losingQueue(workspaceId: string) {
  const lost: BackfillMessage[] = [];
  const keep = (m: BackfillMessage) => {
    if (m.workspaceId === workspaceId) lost.push(m);
  };
  const queue = {
    send: async (body: BackfillMessage) => keep(body),
    sendBatch: async (msgs: Iterable<MessageSendRequest<BackfillMessage>>) => {
      for (const m of msgs) keep(m.body);
    },
  } as unknown as Queue;
  return { queue, lost };
}

async function build(workspaceId: string, key: string) {
  return orm(env.DB)
    .select({ run: definitions.buildRun, processed: definitions.buildProcessed, queuedAt: definitions.buildQueuedAt })
    .from(definitions)
    .where(and(eq(definitions.workspaceId, workspaceId), eq(definitions.key, key)))
    .get();
}

/** Runs `messages` through the backfill consumer, its own sends going to `queue`. */
async function consume(messages: BackfillMessage[], queue: Queue) {
  const batch = createMessageBatch(
    "tessera-backfill",
    messages.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  await handleBackfill(batch, env, { ...backfillDepsFor(env), queue });
}

describe("a build whose queued pages were lost", () => {
  it("is run again from the start once it shows no sign of life for 15 minutes, and completes", async () => {
    const ws = await workspaceWithOnePro();
    const { queue, lost } = losingQueue(ws.workspaceId);
    expect((await createAudience(ws.secretKey, "pro", { BACKFILL_QUEUE: queue })).status).toBe(201);
    expect(lost).toHaveLength(1);
    expect(await build(ws.workspaceId, "pro")).toMatchObject({ run: 0, processed: 0, queuedAt: expect.any(Number) });

    // Not yet: a quiet quarter of an hour is the sign.
    await restartStalledBuilds(env, Date.now() + STALLED_AFTER_MS - 60_000);
    expect((await build(ws.workspaceId, "pro"))?.run).toBe(0);

    expect(await restartStalledBuilds(env, Date.now() + STALLED_AFTER_MS + 1)).toBeGreaterThanOrEqual(1);
    expect((await build(ws.workspaceId, "pro"))?.run).toBe(1);
    await expect
      .poll(() => statusOf(ws.secretKey, "pro"), { timeout: 20_000, interval: 100 })
      .toEqual({ state: "ready", processed: 1, total: 1, size: 1 });
  });

  it("counts nothing from the stalled run's pages should they turn up after all", async () => {
    const ws = await workspaceWithOnePro();
    const { queue, lost } = losingQueue(ws.workspaceId);
    expect((await createAudience(ws.secretKey, "pro", { BACKFILL_QUEUE: queue })).status).toBe(201);
    // Run 0's plan is turned into its page now, and that page kept back.
    await consume(lost.splice(0), queue);
    const [latePage] = lost.splice(0);
    expect(latePage).toMatchObject({ kind: "backfill-page", target: { key: "pro", run: 0 } });

    // The restart's plan and page are lost too, so only the late page of run 0 could count.
    expect(
      await restartStalledBuilds({ ...env, BACKFILL_QUEUE: queue }, Date.now() + STALLED_AFTER_MS + 1),
    ).toBeGreaterThanOrEqual(1);
    expect(lost).toEqual([
      expect.objectContaining({ kind: "backfill-plan", target: { kind: "audience", key: "pro", run: 1 } }),
    ]);
    await consume([latePage], queue);
    expect(await build(ws.workspaceId, "pro")).toMatchObject({ run: 1, processed: 0 });
    // Run 1's own page counts.
    await consume(lost.splice(0), queue);
    await consume(lost.splice(0), queue);
    expect(await build(ws.workspaceId, "pro")).toMatchObject({ run: 1, processed: 1 });
  });

  it("is left to the other sweep when its restart cannot be sent, and that sweep sends the new run", async () => {
    const ws = await workspaceWithOnePro();
    const { queue } = losingQueue(ws.workspaceId);
    expect((await createAudience(ws.secretKey, "pro", { BACKFILL_QUEUE: queue })).status).toBe(201);
    const refusing = { send: () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue;
    const later = Date.now() + STALLED_AFTER_MS + 1;
    await restartStalledBuilds({ ...env, BACKFILL_QUEUE: refusing }, later);
    expect(await build(ws.workspaceId, "pro")).toMatchObject({ run: 1, processed: 0, queuedAt: null });

    expect(await queueUnqueuedBackfills(env, later)).toBeGreaterThanOrEqual(1);
    await expect
      .poll(() => statusOf(ws.secretKey, "pro"), { timeout: 20_000, interval: 100 })
      .toEqual({ state: "ready", processed: 1, total: 1, size: 1 });
    expect((await build(ws.workspaceId, "pro"))?.run).toBe(1);
  });

  it("is left alone while its pages make progress, and after its last run", async () => {
    const ws = await workspaceWithOnePro();
    const { queue } = losingQueue(ws.workspaceId);
    expect((await createAudience(ws.secretKey, "pro", { BACKFILL_QUEUE: queue })).status).toBe(201);
    const row = and(eq(definitions.workspaceId, ws.workspaceId), eq(definitions.key, "pro"));
    const later = Date.now() + STALLED_AFTER_MS + 1;
    // Queued long ago, but a page was counted a minute ago: alive.
    await orm(env.DB)
      .update(definitions)
      .set({ buildActiveAt: later - 60_000 })
      .where(row)
      .run();
    await restartStalledBuilds({ ...env, BACKFILL_QUEUE: queue }, later);
    expect((await build(ws.workspaceId, "pro"))?.run).toBe(0);

    // In its last run, quiet for good: not run over the whole workspace again.
    await orm(env.DB)
      .update(definitions)
      .set({ buildRun: MAX_BUILD_RUNS - 1, buildActiveAt: null })
      .where(row)
      .run();
    await restartStalledBuilds({ ...env, BACKFILL_QUEUE: queue }, later);
    expect((await build(ws.workspaceId, "pro"))?.run).toBe(MAX_BUILD_RUNS - 1);
  });
});
