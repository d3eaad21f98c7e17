import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AcceptedMessage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { CachedIdentityStore } from "../identity/cached-identity-store";
import { D1IdentityStore } from "../identity/d1-identity-store";
import type { IdentityStore } from "../identity/identity-store";
import { DEFAULT_IDENTITY_RULES } from "../identity/rules";
import { profileStub } from "../profile/profile-stub";
import { input, profileOf } from "../test-support/identity-inputs";
import { identify, track } from "../test-support/messages";
import { observedD1 } from "../test-support/observed-d1";
import { type IngestDeps, ingestMessages, runJob } from "./pipeline";
import { ingestDepsFor } from "./pipeline-deps";

const rules = DEFAULT_IDENTITY_RULES;
const at = "2025-03-01T10:00:00.000Z";

/** The pipeline over `identity`, with profile objects that store everything and record the folds asked of them. */
function pipelineOver(identity: Pick<IdentityStore, "resolve">) {
  const folds: Array<[string, string]> = [];
  const deps: IngestDeps = {
    loadRules: async () => rules,
    definitionsVersion: async () => 0,
    identity: { resolve: identity.resolve.bind(identity), redirect() {}, forgetProfile() {}, forgetIdentifiers() {} },
    profile: (id) => ({
      ingest: async (i) => ({ status: "stored", inserted: i.messages.length, duplicates: 0 }),
      async mergeInto(into) {
        folds.push([id, into]);
      },
    }),
  };
  return { deps, folds };
}

/** `env.DB` whose graph write batches (those that open tickets) run `beforeWrite(n)` first, n counting from 1. */
function observedWrites(beforeWrite: (n: number) => Promise<void>) {
  let writing = false;
  let writes = 0;
  return observedD1({
    prepared: (sql) => {
      if (sql.includes("INSERT INTO identity_write_tickets")) writing = true;
    },
    async beforeBatch() {
      if (!writing) return;
      writing = false;
      await beforeWrite(++writes);
    },
  });
}

/** The production pipeline's dependencies, resolving through `identity` (no cache in front). */
function realObjectsOver(identity: Pick<IdentityStore, "resolve">): IngestDeps {
  const real = ingestDepsFor(env);
  return {
    ...real,
    identity: { resolve: identity.resolve.bind(identity), redirect() {}, forgetProfile() {}, forgetIdentifiers() {} },
  };
}

/** The messageIds object `id` holds; throws unless it answers "ok". */
async function eventIdsOf(id: string): Promise<string[]> {
  const read = await profileStub(env.PROFILE, id).listEvents({ limit: 100 });
  if (read.status !== "ok") throw new Error(`profile ${id}: ${read.status}`);
  return read.page.data.map((e) => e.messageId).sort();
}

const journal = (ws: string) =>
  env.DB.prepare("SELECT from_profile AS f, into_profile AS t FROM merges WHERE workspace_id = ? AND undone_at IS NULL")
    .bind(ws)
    .all<{ f: string; t: string }>()
    .then((r) => r.results.map((m) => [m.f, m.t]));

describe("a merge whose resolve failed after writing it", () => {
  it("is folded when the queued resolve job runs, though the graph already shows one profile", async () => {
    const ws = newId("ws");
    const healthy = new D1IdentityStore(env.DB);
    const p = profileOf((await healthy.resolve(ws, rules, [input("p", "user_id:u")]))[0]);
    const q = profileOf((await healthy.resolve(ws, rules, [input("q", "anonymous_id:a")]))[0]);
    profileOf((await healthy.resolve(ws, rules, [input("r", "anonymous_id:c")]))[0]);

    // Write 1 claims everything as new (and finds it known); write 2 lands the merge of Q into P but not R's email
    // (another isolate touched R just before); write 3, for R again, fails.
    const failing = new D1IdentityStore(
      observedWrites(async (n) => {
        if (n === 2) await healthy.resolve(ws, rules, [input("touch", "anonymous_id:c", "device_id:d")]);
        if (n === 3) throw new Error("D1 unavailable");
      }),
    );
    const batch: AcceptedMessage[] = [
      identify({}, at, { userId: "u", anonymousId: "a" }),
      identify({}, at, { userId: undefined, anonymousId: "c", traits: { email: "c@x.test" } }),
    ];
    const first = pipelineOver(failing);
    const report = await ingestMessages(
      first.deps,
      ws,
      batch.map((message, index) => ({ index, message })),
      { quiet: true },
    );
    expect(report.failed.map((job) => job.kind)).toEqual(["resolve"]);
    expect(await journal(ws)).toEqual([[q, p]]);
    expect(first.folds).toEqual([]);

    // The retry consumer's isolate meanwhile learned u and a from a later message: the graph, not its cache, must
    // answer the retried ones.
    const consumer = new CachedIdentityStore(new D1IdentityStore(env.DB));
    expect(profileOf((await consumer.resolve(ws, rules, [input("later", "user_id:u", "anonymous_id:a")]))[0])).toBe(p);
    const retry = pipelineOver(consumer);
    expect(await runJob(retry.deps, report.failed[0], { quiet: true })).toEqual([]);
    expect(retry.folds).toEqual([[q, p]]);
  });

  it("is reported again for a retried message only, from the journal, and not once undone", async () => {
    const ws = newId("ws");
    const store = new D1IdentityStore(env.DB);
    const p = profileOf((await store.resolve(ws, rules, [input("p", "user_id:u")]))[0]);
    const q = profileOf((await store.resolve(ws, rules, [input("q", "anonymous_id:a")]))[0]);
    // As when D1 committed the merge but its reply was lost: the outcome that named it never reached the pipeline.
    await store.resolve(ws, rules, [input("m", "user_id:u", "anonymous_id:a")]);

    let journalReads = 0;
    const observed = new D1IdentityStore(
      observedD1({
        prepared: (sql) => {
          if (/FROM tree AS t CROSS JOIN merges/.test(sql)) journalReads++;
        },
      }),
    );
    const [ordinary] = await observed.resolve(ws, rules, [input("m", "user_id:u", "anonymous_id:a")]);
    expect(ordinary).toMatchObject({ profileId: p, merged: [] });
    expect(journalReads).toBe(0);

    const retried = { ...input("m", "user_id:u", "anonymous_id:a"), retried: true };
    const [again, other] = await observed.resolve(ws, rules, [
      retried,
      { ...input("n", "anonymous_id:a"), retried: true },
    ]);
    expect(again).toMatchObject({ profileId: p, merged: [{ from: q, into: p }] });
    expect(other).toMatchObject({ profileId: p, merged: [] });
    expect(journalReads).toBe(1);

    await env.DB.prepare("UPDATE merges SET undone_at = 1 WHERE workspace_id = ?").bind(ws).run();
    const [undone] = await store.resolve(ws, rules, [retried]);
    expect(undone).toMatchObject({ merged: [] });
  });

  it("is folded by the merged-away profile's alarm when the queue refuses the retry and nobody sends it again", async () => {
    const ws = newId("ws");
    const healthy = new D1IdentityStore(env.DB);
    const p = profileOf((await healthy.resolve(ws, rules, [input("p", "user_id:u")]))[0]);
    const q = profileOf((await healthy.resolve(ws, rules, [input("q", "anonymous_id:a")]))[0]);
    profileOf((await healthy.resolve(ws, rules, [input("r", "anonymous_id:c")]))[0]);
    const [own, visit] = [track("Login", at, { userId: "u" }), track("Browse", at, { anonymousId: "a" })];
    await profileStub(env.PROFILE, p).ingest({ profileId: p, workspaceId: ws, messages: [own], identifiers: [] });
    await profileStub(env.PROFILE, q).ingest({ profileId: q, workspaceId: ws, messages: [visit], identifiers: [] });

    // As in the first case: the merge of Q into P lands, then the resolve fails.
    const failing = new D1IdentityStore(
      observedWrites(async (n) => {
        if (n === 2) await healthy.resolve(ws, rules, [input("touch", "anonymous_id:c", "device_id:d")]);
        if (n === 3) throw new Error("D1 unavailable");
      }),
    );
    const batch: AcceptedMessage[] = [
      identify({}, at, { userId: "u", anonymousId: "a" }),
      identify({}, at, { userId: undefined, anonymousId: "c", traits: { email: "c@x.test" } }),
    ];
    const report = await ingestMessages(
      realObjectsOver(failing),
      ws,
      batch.map((message, index) => ({ index, message })),
      { quiet: true },
    );
    expect(report.failed.map((job) => job.kind)).toEqual(["resolve"]);
    expect(await journal(ws)).toEqual([[q, p]]);
    // The retry queue refuses the job, and the client never sends the request again: only Q's object is left.

    expect(await runDurableObjectAlarm(env.PROFILE.getByName(q))).toBe(true);
    expect(await profileStub(env.PROFILE, q).getProfile()).toEqual({ status: "redirect", to: p });
    expect(await eventIdsOf(p)).toEqual([own.messageId, visit.messageId].sort());
  });

  it("is folded by the merged-away profile's alarm when D1 committed the merge and lost the reply", async () => {
    const ws = newId("ws");
    const healthy = new D1IdentityStore(env.DB);
    const p = profileOf((await healthy.resolve(ws, rules, [input("p", "user_id:u")]))[0]);
    const q = profileOf((await healthy.resolve(ws, rules, [input("q", "anonymous_id:a")]))[0]);
    const visit = track("Browse", at, { anonymousId: "a" });
    await profileStub(env.PROFILE, q).ingest({ profileId: q, workspaceId: ws, messages: [visit], identifiers: [] });

    // The batch that writes the merge commits, and its reply is lost.
    let merging = false;
    const replyLost = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "prepare")
          return (sql: string) => {
            if (sql.includes("INSERT INTO merges")) merging = true;
            return target.prepare(sql);
          };
        if (prop !== "batch") return Reflect.get(target, prop).bind(target);
        return async (statements: D1PreparedStatement[]) => {
          const results = await target.batch(statements);
          if (merging) throw new Error("D1: network connection lost");
          return results;
        };
      },
    });
    const store = new D1IdentityStore(replyLost);
    let thrown: unknown;
    const watched: Pick<IdentityStore, "resolve"> = {
      resolve: (...args) =>
        store.resolve(...args).catch((err: unknown) => {
          thrown = err;
          throw err;
        }),
    };
    const report = await ingestMessages(
      realObjectsOver(watched),
      ws,
      [{ index: 0, message: identify({}, at, { userId: "u", anonymousId: "a" }) }],
      { quiet: true },
    );
    expect(report.failed.map((job) => job.kind)).toEqual(["resolve"]);
    // Logs and dead letters name D1's failure, not only that merges may be owed.
    expect(String((thrown as Error).message)).toMatch(/^D1: network connection lost/);
    expect(await journal(ws)).toEqual([[q, p]]);

    expect(await runDurableObjectAlarm(env.PROFILE.getByName(q))).toBe(true);
    expect(await profileStub(env.PROFILE, q).getProfile()).toEqual({ status: "redirect", to: p });
    expect(await eventIdsOf(p)).toEqual([visit.messageId]);
  });

  it("leaves a profile the graph did not merge live, and forgets the note", async () => {
    const ws = newId("ws");
    const q = profileOf((await new D1IdentityStore(env.DB).resolve(ws, rules, [input("q", "anonymous_id:a")]))[0]);
    const visit = track("Browse", at, { anonymousId: "a" });
    await profileStub(env.PROFILE, q).ingest({ profileId: q, workspaceId: ws, messages: [visit], identifiers: [] });

    await profileStub(env.PROFILE, q).foldIfMerged({ profileId: q, workspaceId: ws });
    expect(await runDurableObjectAlarm(env.PROFILE.getByName(q))).toBe(true);
    expect(await profileStub(env.PROFILE, q).getProfile()).toMatchObject({ status: "ok" });
    expect(await eventIdsOf(q)).toEqual([visit.messageId]);
    // The note is settled: nothing is left for the alarm to ask.
    expect(await runDurableObjectAlarm(env.PROFILE.getByName(q))).toBe(false);
  });
});
