import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AudienceDefinition, BackfillMessage, BackfillPage, BackfillPlan } from "@tessera/protocol";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { orm } from "../../d1/client";
import { definitions, workspaces } from "../../d1/schema";
import type { DefinitionsAt } from "../profile/profile-rpc";
import { profileStub } from "../profile/profile-stub";
import { QUEUE } from "../shared/queues";
import { identify } from "../test-support/messages";
import { seedWorkspace } from "../test-support/seed";
import { store } from "../test-support/store-messages";
import { uid } from "../test-support/worker-requests";
import { type BackfillTarget, startBackfill } from "./backfill";
import {
  type BackfillDeps,
  backfillBackoffSeconds,
  backfillDepsFor,
  handleBackfill,
  MAX_PAGE_ATTEMPTS,
} from "./backfill-consumer";

const PRO: AudienceDefinition = { trait: "plan", op: "eq", value: "pro" };

/** A queue that records each `sendBatch` call, in order. */
function recordingQueue() {
  const calls: BackfillMessage[][] = [];
  const delays: Array<number | undefined> = [];
  return {
    calls,
    sent: () => calls.flat(),
    delays,
    async sendBatch(messages: Iterable<MessageSendRequest>): Promise<QueueSendBatchResponse> {
      const list = [...messages];
      calls.push(list.map((m) => m.body as BackfillMessage));
      delays.push(...list.map((m) => m.delaySeconds));
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
    },
    async send(body: unknown): Promise<QueueSendResponse> {
      calls.push([body as BackfillMessage]);
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
    },
  };
}

/** Delivers `bodies` as one batch to the consumer, with real D1 and Durable Objects unless `deps` says otherwise. */
async function deliver(bodies: BackfillMessage[], deps: Partial<BackfillDeps> = {}) {
  const queue = recordingQueue();
  const batch = createMessageBatch(
    QUEUE.backfill,
    bodies.map((body, i) => ({ id: `msg-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await handleBackfill(batch, env, { ...backfillDepsFor(env), queue, ...deps });
  return { result: await getQueueResult(batch, ctx), sent: queue.sent(), calls: queue.calls, delays: queue.delays };
}

/**
 * Writes `key` as the admin API does when it starts a backfill: bumps the workspace's definitions version and
 * stores the definition building at that version over `total` profiles. Returns the new version.
 */
async function defineBuilding(workspaceId: string, key: string, definition: AudienceDefinition, total: number) {
  const d = orm(env.DB);
  const [bumped] = await d
    .update(workspaces)
    .set({ definitionsVersion: sql`${workspaces.definitionsVersion} + 1` })
    .where(eq(workspaces.id, workspaceId))
    .returning({ version: workspaces.definitionsVersion });
  const now = Date.now();
  const build = { definition: JSON.stringify(definition), buildVersion: bumped.version, buildTotal: total };
  await d
    .insert(definitions)
    .values({ workspaceId, kind: "audience", key, version: 1, createdAt: now, updatedAt: now, ...build })
    .onConflictDoUpdate({
      target: [definitions.workspaceId, definitions.kind, definitions.key],
      set: { ...build, buildProcessed: 0, updatedAt: now },
    });
  return bumped.version;
}

/** Deletes the definition `key` and bumps the workspace's version, as `DELETE /v1/audiences/:key` does. */
async function deleteDefinition(workspaceId: string, key: string): Promise<number> {
  const d = orm(env.DB);
  await d
    .delete(definitions)
    .where(and(eq(definitions.workspaceId, workspaceId), eq(definitions.kind, "audience"), eq(definitions.key, key)));
  const [bumped] = await d
    .update(workspaces)
    .set({ definitionsVersion: sql`${workspaces.definitionsVersion} + 1` })
    .where(eq(workspaces.id, workspaceId))
    .returning({ version: workspaces.definitionsVersion });
  return bumped.version;
}

async function progress(workspaceId: string, key: string) {
  return orm(env.DB)
    .select({ processed: definitions.buildProcessed, total: definitions.buildTotal })
    .from(definitions)
    .where(and(eq(definitions.workspaceId, workspaceId), eq(definitions.kind, "audience"), eq(definitions.key, key)))
    .get();
}

async function audiencesOf(profileId: string): Promise<string[]> {
  const read = await profileStub(env.PROFILE, profileId).getProfile();
  if (read.status !== "ok") throw new Error(`profile ${profileId} is ${read.status}`);
  return read.profile.audiences.map((a) => a.key);
}

/** A workspace with one profile per plan value, stored through the real pipeline; ids in listing (id) order. */
async function workspaceWithProfiles(plans: string[]) {
  const { workspaceId } = await seedWorkspace("backfill");
  const ids: string[] = [];
  for (const plan of plans) {
    const [id] = await store(workspaceId, [identify({ plan }, "2025-06-01T12:00:00.000Z", { userId: uid("u") })]);
    if (!id) throw new Error("profile not stored");
    ids.push(id);
  }
  return { workspaceId, ids: [...ids].sort(), byPlan: ids };
}

/** The one page a plan over fewer than 100 profiles sends, through `startBackfill` and the plan consumer. */
async function pageFor(
  workspaceId: string,
  buildVersion: number,
  target: BackfillTarget | null,
): Promise<BackfillPage> {
  const queue = recordingQueue();
  await startBackfill({ ...env, BACKFILL_QUEUE: queue as unknown as Queue }, { workspaceId, buildVersion, target });
  const { result, sent } = await deliver(queue.sent());
  expect(result.explicitAcks).toEqual(["msg-0"]);
  expect(sent).toHaveLength(1);
  return sent[0] as BackfillPage;
}

describe("startBackfill", () => {
  it("sends one plan message that starts from the first profile", async () => {
    const queue = recordingQueue();
    const target = { kind: "audience", key: "vip" } as const;
    await startBackfill(
      { ...env, BACKFILL_QUEUE: queue as unknown as Queue },
      { workspaceId: "ws_x", buildVersion: 7, target },
    );
    expect(queue.sent()).toEqual([
      {
        kind: "backfill-plan",
        workspaceId: "ws_x",
        buildVersion: 7,
        target: { ...target, run: 0 },
        after: null,
        listed: 0,
      },
    ] satisfies BackfillPlan[]);
  });
});

describe("a backfill plan", () => {
  it("enqueues the live profiles as pages of 100 in id order, then the plan after the 5,000th", async () => {
    const { workspaceId } = await seedWorkspace("backfill-plan");
    // 5,001 live profile rows plus one merged away and one erased; a plan reads D1 only, so rows are enough.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5003)
       INSERT INTO profiles (id, workspace_id, created_at, merged_into, deleted_at)
       SELECT printf('prf_bulk%05d', i), ?1, 0,
              CASE WHEN i = 17 THEN 'prf_bulk00001' END, CASE WHEN i = 4000 THEN 1 END FROM n`,
    )
      .bind(workspaceId)
      .run();
    const live = Array.from({ length: 5003 }, (_, i) => `prf_bulk${String(i + 1).padStart(5, "0")}`).filter(
      (id) => id !== "prf_bulk00017" && id !== "prf_bulk04000",
    );
    const target = { kind: "audience", key: "vip", run: 0 } as const;
    const plan: BackfillPlan = { kind: "backfill-plan", workspaceId, buildVersion: 3, target, after: null, listed: 0 };

    const first = await deliver([plan]);
    expect(first.result.explicitAcks).toEqual(["msg-0"]);
    const pages = first.sent.slice(0, -1) as BackfillPage[];
    expect(pages).toHaveLength(50);
    for (const page of pages)
      expect(page).toMatchObject({ kind: "backfill-page", workspaceId, buildVersion: 3, target });
    expect(pages.every((p) => p.profileIds.length === 100)).toBe(true);
    expect(pages.flatMap((p) => p.profileIds)).toEqual(live.slice(0, 5000));
    for (const call of first.calls) expect(call.length).toBeLessThanOrEqual(100);
    // The next plan goes out last, after every page of this one was accepted.
    expect(first.calls.at(-1)).toEqual([{ ...plan, after: live[4999], listed: 5000 }]);

    const second = await deliver([{ ...plan, after: live[4999], listed: 5000 }]);
    expect(second.result.explicitAcks).toEqual(["msg-0"]);
    expect(second.sent).toEqual([
      { kind: "backfill-page", workspaceId, buildVersion: 3, target, profileIds: [live[5000]], attempt: 0 },
    ] satisfies BackfillPage[]);
  });

  it("enqueues one page of the workspace's profiles and no further plan when fewer than 5,000", async () => {
    const { workspaceId, ids } = await workspaceWithProfiles(["pro", "free", "pro"]);
    const page = await pageFor(workspaceId, 1, null);
    expect(page).toEqual({
      kind: "backfill-page",
      workspaceId,
      buildVersion: 1,
      target: null,
      profileIds: ids,
      attempt: 0,
    });
  });

  it("settles the target's total to what the backfill listed, so the status can reach ready", async () => {
    const { workspaceId, ids } = await workspaceWithProfiles(["pro", "free", "pro"]);
    // The API counted 5 live profiles; two were merged away or erased before the plan listed them.
    const version = await defineBuilding(workspaceId, "pro", PRO, 5);
    const target = { kind: "audience", key: "pro", run: 0 } as const;
    const plan: BackfillPlan = {
      kind: "backfill-plan",
      workspaceId,
      buildVersion: version,
      target,
      after: null,
      listed: 0,
    };
    const { sent } = await deliver([plan]);
    expect(await progress(workspaceId, "pro")).toEqual({ processed: 0, total: 3 });
    await deliver(sent as BackfillPage[]);
    expect(await progress(workspaceId, "pro")).toEqual({ processed: ids.length, total: 3 });
  });

  it("is retried when the queue refuses its pages", async () => {
    const { workspaceId } = await workspaceWithProfiles(["pro"]);
    const refusing = {
      async sendBatch(): Promise<QueueSendBatchResponse> {
        throw new Error("queue unavailable");
      },
    };
    const plan: BackfillPlan = {
      kind: "backfill-plan",
      workspaceId,
      buildVersion: 1,
      target: null,
      after: null,
      listed: 0,
    };
    const { result } = await deliver([plan], { queue: refusing });
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["msg-0"]);
  });
});

describe("a backfill page", () => {
  it("re-evaluates each profile with the new definitions and counts them towards the build", async () => {
    const { workspaceId, byPlan } = await workspaceWithProfiles(["pro", "free", "pro"]);
    const version = await defineBuilding(workspaceId, "pro", PRO, 3);
    const page = await pageFor(workspaceId, version, { kind: "audience", key: "pro" });
    expect(await progress(workspaceId, "pro")).toEqual({ processed: 0, total: 3 });

    const { result } = await deliver([page]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(await progress(workspaceId, "pro")).toEqual({ processed: 3, total: 3 });
    expect(await Promise.all(byPlan.map(audiencesOf))).toEqual([["pro"], [], ["pro"]]);
  });

  it("does not push progress past the total when the page is delivered again", async () => {
    const { workspaceId, ids } = await workspaceWithProfiles(["pro", "free"]);
    const version = await defineBuilding(workspaceId, "pro", PRO, 2);
    const page: BackfillPage = {
      kind: "backfill-page",
      workspaceId,
      buildVersion: version,
      target: { kind: "audience", key: "pro", run: 0 },
      profileIds: ids,
      attempt: 0,
    };
    await deliver([page]);
    const again = await deliver([page]);
    expect(again.result.explicitAcks).toEqual(["msg-0"]);
    expect(await progress(workspaceId, "pro")).toEqual({ processed: 2, total: 2 });
  });

  it("leaves a newer build's progress alone when a page of an older build arrives", async () => {
    const { workspaceId, ids } = await workspaceWithProfiles(["pro", "free"]);
    const older = await defineBuilding(workspaceId, "pro", PRO, 2);
    const newer = await defineBuilding(workspaceId, "pro", { trait: "plan", op: "eq", value: "free" }, 2);
    expect(newer).toBeGreaterThan(older);
    const stale: BackfillPage = {
      kind: "backfill-page",
      workspaceId,
      buildVersion: older,
      target: { kind: "audience", key: "pro", run: 0 },
      profileIds: ids,
      attempt: 0,
    };
    const { result } = await deliver([stale]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(await progress(workspaceId, "pro")).toEqual({ processed: 0, total: 2 });
  });

  it("counts the profiles that succeeded and sends the one that failed again, alone and delayed", async () => {
    const { workspaceId, ids } = await workspaceWithProfiles(["pro", "free", "pro"]);
    const version = await defineBuilding(workspaceId, "pro", PRO, 3);
    const real = backfillDepsFor(env);
    const evaluated: string[] = [];
    const page: BackfillPage = {
      kind: "backfill-page",
      workspaceId,
      buildVersion: version,
      target: { kind: "audience", key: "pro", run: 0 },
      profileIds: ids,
      attempt: 0,
    };
    const broken = {
      async reevaluate(profileId: string, at: DefinitionsAt) {
        if (profileId === ids[1]) throw new Error("Durable Object reset");
        evaluated.push(profileId);
        return real.reevaluate(profileId, at);
      },
    };
    const { result, sent, delays } = await deliver([page], broken);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(evaluated.sort()).toEqual([ids[0], ids[2]]);
    expect(await progress(workspaceId, "pro")).toEqual({ processed: 2, total: 3 });
    expect(sent).toEqual([{ ...page, profileIds: [ids[1]], attempt: 1 }]);
    expect(delays).toEqual([backfillBackoffSeconds(1)]);

    // The retry page succeeds: the build is complete, and nobody was evaluated twice.
    await deliver(sent);
    expect(await progress(workspaceId, "pro")).toEqual({ processed: 3, total: 3 });
  });

  it("gives up on a profile that failed every attempt, leaving the build short of its total", async () => {
    const { workspaceId, ids } = await workspaceWithProfiles(["pro", "pro"]);
    const version = await defineBuilding(workspaceId, "pro", PRO, 2);
    const page: BackfillPage = {
      kind: "backfill-page",
      workspaceId,
      buildVersion: version,
      target: { kind: "audience", key: "pro", run: 0 },
      profileIds: [ids[0]],
      attempt: MAX_PAGE_ATTEMPTS - 1,
    };
    const { result, sent } = await deliver([page], {
      async reevaluate() {
        throw new Error("poisoned event log");
      },
    });
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(sent).toEqual([]);
    expect(await progress(workspaceId, "pro")).toEqual({ processed: 0, total: 2 });
  });

  it("counts a profile erased since the plan listed it as processed", async () => {
    const { workspaceId, ids } = await workspaceWithProfiles(["pro", "free"]);
    const version = await defineBuilding(workspaceId, "pro", PRO, 2);
    const page = await pageFor(workspaceId, version, { kind: "audience", key: "pro" });
    await profileStub(env.PROFILE, ids[0]).erase();

    const { result } = await deliver([page]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(await progress(workspaceId, "pro")).toEqual({ processed: 2, total: 2 });
  });

  it("without a target, still re-evaluates every profile: members of a deleted audience exit", async () => {
    const { workspaceId, byPlan } = await workspaceWithProfiles(["pro", "free"]);
    const built = await defineBuilding(workspaceId, "pro", PRO, 2);
    await deliver([await pageFor(workspaceId, built, { kind: "audience", key: "pro" })]);
    expect(await audiencesOf(byPlan[0])).toEqual(["pro"]);

    const deleted = await deleteDefinition(workspaceId, "pro");
    const { result } = await deliver([await pageFor(workspaceId, deleted, null)]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(await Promise.all(byPlan.map(audiencesOf))).toEqual([[], []]);
  });
});
