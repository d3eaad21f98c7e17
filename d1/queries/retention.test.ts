import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import worker from "../../workers/index";
import { plans, recordingDb, walks } from "../../workers/test-support/query-plans";
import { orm } from "../client";
import { newId } from "../ids";
import { createWorkspace } from "../provision";
import { merges, profiles } from "../schema";
import { listIngestDeadLetters, markIngestDeadLetterReplayed, recordIngestDeadLetter } from "./dead-letters";
import { insertDefinition, readDefinitionsVersion } from "./definitions";
import { claimIdempotencyKey } from "./idempotent-requests";
import { applyManyMemberChanges, listMembers, type MemberChange } from "./members";
import { MEMBER_EXIT_RETENTION_MS, OPERATIONS_RETENTION_MS, pruneExpiredRecords } from "./retention";
import { emptyDrainRecord, listDeadLetters, listSyncLog, markReplayed, recordDrain } from "./sync-records";

const NOW = Date.parse("2026-12-01T00:00:00.000Z");
const DAY = 24 * 60 * 60 * 1000;
const expired = NOW - OPERATIONS_RETENTION_MS - DAY;
const recent = NOW - DAY;

/** A destination's drain at `at` that logged one entry per profile and dead-lettered one operation. */
async function drainAt(destinationId: string, at: number, profiles: string[]): Promise<void> {
  await recordDrain(env.DB, destinationId, {
    ...emptyDrainRecord(at),
    log: profiles.map((profileId) => ({ destinationId, at, profileId, action: "add", outcome: "ok", attempts: 1 })),
    deadLetters: [{ profileId: profiles[0], op: "{}", error: "HTTP 400" }],
  });
}

async function logOf(destinationId: string): Promise<string[]> {
  return (await listSyncLog(env.DB, destinationId, { limit: 100 })).map((r) => r.profileId).sort();
}

describe("pruneExpiredRecords", () => {
  it("deletes the sync log past the retention and dead letters replayed before it, keeps pending ones", async () => {
    // Idempotency-Key answers: one from two days ago, one from an hour ago.
    const keyWs = `ws_${crypto.randomUUID()}`;
    for (const [key, startedAt] of [
      ["old", NOW - 2 * DAY],
      ["new", NOW - DAY / 24],
    ] as const)
      await claimIdempotencyKey(env.DB, { workspaceId: keyWs, key, fingerprint: "POST /v1/sources x" }, startedAt, 0);
    const dst = `dst_${crypto.randomUUID()}`;
    await drainAt(dst, expired, ["prf_old1", "prf_old2"]);
    await drainAt(dst, recent, ["prf_new"]);
    // Sync dead letters: the old drain's replayed long ago, the recent one's replayed yesterday; a third pending.
    const [newer, older] = await listDeadLetters(env.DB, dst);
    await markReplayed(env.DB, [older.id], expired);
    await markReplayed(env.DB, [newer.id], recent);
    await recordDrain(env.DB, dst, {
      ...emptyDrainRecord(expired),
      deadLetters: [{ profileId: "p", op: "{}", error: "x" }],
    });
    // Ingest dead letters: one replayed long ago, one replayed yesterday, one never replayed (however old).
    const ws = `ws_${crypto.randomUUID()}`;
    for (const queueMessageId of ["q-old", "q-new", "q-pending"])
      await recordIngestDeadLetter(env.DB, {
        workspaceId: ws,
        queueMessageId: `${ws}-${queueMessageId}`,
        jobs: "[]",
        messageCount: 1,
        error: "x",
        attempts: 3,
        createdAt: expired,
      });
    const letters = await listIngestDeadLetters(env.DB, { workspaceId: ws }, { status: "all", limit: 10 });
    const idOf = (q: string) => letters.find((l) => l.queueMessageId === `${ws}-${q}`)?.id as number;
    await markIngestDeadLetterReplayed(env.DB, idOf("q-old"), expired);
    await markIngestDeadLetterReplayed(env.DB, idOf("q-new"), recent);

    const pruned = await pruneExpiredRecords(env.DB, NOW);

    // Other tests of this run share the database: at least this test's expired rows went.
    expect(pruned.syncLog).toBeGreaterThanOrEqual(2);
    expect(pruned.ingestDeadLetters).toBeGreaterThanOrEqual(1);
    expect(pruned.syncDeadLetters).toBeGreaterThanOrEqual(1);
    expect(pruned.idempotentRequests).toBeGreaterThanOrEqual(1);
    const keys = await env.DB.prepare("SELECT key FROM idempotent_requests WHERE workspace_id = ?").bind(keyWs).all();
    expect(keys.results).toEqual([{ key: "new" }]);
    expect(await logOf(dst)).toEqual(["prf_new"]);
    const left = await listIngestDeadLetters(env.DB, { workspaceId: ws }, { status: "all", limit: 10 });
    expect(left.map((l) => l.queueMessageId).sort()).toEqual([`${ws}-q-new`, `${ws}-q-pending`]);
    const syncLetters = await env.DB.prepare("SELECT replayed_at FROM sync_dead_letters WHERE destination_id = ?")
      .bind(dst)
      .all<{ replayed_at: number | null }>();
    expect(syncLetters.results.map((r) => r.replayed_at).sort()).toEqual([recent, null].sort());
  });

  it("deletes at most its limit of each per run, the oldest first, and reads no more than that", async () => {
    const dst = `dst_${crypto.randomUUID()}`;
    await drainAt(dst, expired, ["prf_a", "prf_b", "prf_c"]);
    await drainAt(dst, expired + 1, ["prf_d"]);
    const first = await pruneExpiredRecords(env.DB, NOW, 2);
    expect(first.syncLog).toBeLessThanOrEqual(2);
    // Whatever expired entries other tests left before these, runs of two take them all, oldest first.
    for (let i = 0; i < 500 && (await logOf(dst)).length > 0; i++) await pruneExpiredRecords(env.DB, NOW, 2);
    expect(await logOf(dst)).toEqual([]);

    // A log of 1,000 recent entries: a prune reads none of them.
    await recordDrain(env.DB, dst, {
      ...emptyDrainRecord(recent),
      log: Array.from({ length: 1_000 }, (_, i) => ({
        destinationId: dst,
        at: recent,
        profileId: `prf_${i}`,
        action: "add" as const,
        outcome: "ok" as const,
        attempts: 1,
      })),
    });
    const { db, prepared } = recordingDb();
    await pruneExpiredRecords(db, NOW, 10);
    expect(prepared).toHaveLength(5);
    const read = [];
    for (const { sql, params } of prepared)
      read.push(
        (
          await env.DB.prepare(sql)
            .bind(...params)
            .run()
        ).meta.rows_read,
      );
    expect(read[0]).toBeLessThan(50);
    const steps = await plans(prepared);
    expect(walks(steps)).toEqual([]);
    for (const index of [
      "sync_log_at_idx",
      "ingest_dead_letters_pending_idx",
      "sync_dead_letters_replayed_idx",
      "idempotent_requests_started_idx",
      "member_exits_exited_at_idx",
    ])
      expect(steps.some((s) => s.includes(index))).toBe(true);
  });

  it("forgets a leave once no older change can still reach D1, and until then refuses the older changes", async () => {
    const { workspace } = await createWorkspace(env.DB, { name: "exits" });
    const ws = workspace.id;
    const saved = await insertDefinition(env.DB, {
      workspaceId: ws,
      kind: "audience",
      key: "vip",
      readVersion: await readDefinitionsVersion(env.DB, ws),
      now: NOW - 3 * DAY,
      buildTotal: 0,
      definition: "{}",
    });
    expect(saved.ok).toBe(true);
    const vip = (member: boolean, seq: number): MemberChange => ({
      kind: "audience",
      key: "vip",
      member,
      at: seq,
      seq,
    });
    const deliver = (profileId: string, changes: MemberChange[], at: number) =>
      applyManyMemberChanges(env.DB, ws, [{ profileId, changes }], at);
    const longAgo = NOW - MEMBER_EXIT_RETENTION_MS - 1;
    const [gone, recentlyLeft, leftAgain] = [newId("prf"), newId("prf"), newId("prf")];
    await deliver(gone, [vip(true, 1), vip(false, 2)], longAgo);
    await deliver(recentlyLeft, [vip(true, 1), vip(false, 2)], NOW - DAY / 24);
    // Left long ago, and again an hour ago (its entry in between arrives late, below): the exit is as old as the
    // newer leave.
    await deliver(leftAgain, [vip(true, 1), vip(false, 2)], longAgo);
    await deliver(leftAgain, [vip(false, 4)], NOW - DAY / 24);

    const pruned = await pruneExpiredRecords(env.DB, NOW);

    expect(pruned.memberExits).toBeGreaterThanOrEqual(1);
    const exits = await env.DB.prepare("SELECT profile_id, seq FROM member_exits WHERE workspace_id = ?")
      .bind(ws)
      .all<{ profile_id: string; seq: number }>();
    expect(exits.results.map((r) => [r.profile_id, r.seq]).sort()).toEqual(
      [
        [recentlyLeft, 2],
        [leftAgain, 4],
      ].sort(),
    );
    // The changes a kept exit is there for still find it: no one is a member again.
    await deliver(recentlyLeft, [vip(true, 1)], NOW);
    await deliver(leftAgain, [vip(true, 3)], NOW);
    expect(await listMembers(env.DB, ws, "audience", "vip", { limit: 10 })).toEqual([]);
  });

  it("runs with the Worker's cron, every minute", async () => {
    const dst = `dst_${crypto.randomUUID()}`;
    await drainAt(dst, Date.now() - OPERATIONS_RETENTION_MS - DAY, ["prf_expired"]);
    await drainAt(dst, Date.now(), ["prf_today"]);
    // A merge whose fold nobody recorded, its merged-away profile erased since: the sweep of owed folds settles it.
    const [ws, gone, kept, mergeId] = [newId("ws"), newId("prf"), newId("prf"), newId("mrg")];
    const hourAgo = Date.now() - 60 * 60 * 1000;
    await orm(env.DB)
      .insert(profiles)
      .values([
        { id: gone, workspaceId: ws, createdAt: hourAgo, mergedInto: kept, deletedAt: hourAgo },
        { id: kept, workspaceId: ws, createdAt: hourAgo },
      ]);
    await orm(env.DB)
      .insert(merges)
      .values({ id: mergeId, workspaceId: ws, fromProfile: gone, intoProfile: kept, rule: "test", createdAt: hourAgo });
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await logOf(dst)).toEqual(["prf_today"]);
    const [merge] = await orm(env.DB).select().from(merges).where(eq(merges.id, mergeId));
    expect(merge.foldedAt).not.toBeNull();
    // The whole cron runs: polls, repairs and deletion jobs included (this file has a runtime of its own, so only its
    // own destinations).
  }, 30_000);
});
