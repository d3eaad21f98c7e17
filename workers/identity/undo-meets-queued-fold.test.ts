/**
 * A merge job still on the ingest retry queue (its first fold failed) that runs while an undo of that merge is under
 * way: after the merged-away profile pulled its state back, before the graph's split commits. The graph still shows
 * the merge then, so the job's fold must not take its word for it.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runJob } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import type { IngestJob } from "../ingest/retry-jobs";
import { profileStub } from "../profile/profile-stub";
import { visitorMergedIntoSam } from "../test-support/merged-visitor";
import { profilesCalling } from "../test-support/profile-calls";
import { storedEventsOf } from "../test-support/profile-reads";
import { undoMerge } from "./merge-undo";

/** `real`, with `restoreFrom` running `then` once the object answered, before the caller hears it. */
const afterRestore = (real: Env["PROFILE"], then: () => Promise<void>) =>
  profilesCalling(real, "restoreFrom", (restore) => async (input) => {
    const outcome = await restore(input);
    await then();
    return outcome;
  });

describe("a queued fold during a merge undo", () => {
  it("leaves the restored profile live, and its events off the survivor, when it runs before the split commits", async () => {
    const { ws, login, cart, checkout, sam, visitor, merge } = await visitorMergedIntoSam("undo-queued-fold");
    expect(merge).toMatchObject({ from: visitor, into: sam });

    const job: IngestJob = { kind: "merge", workspaceId: ws.workspaceId, from: visitor, into: sam };
    const left: IngestJob[][] = [];
    const queuedJobRuns = async () => {
      left.push(await runJob(ingestDepsFor(env), job, { quiet: true }));
    };
    const undone = await undoMerge(
      { ...env, PROFILE: afterRestore(env.PROFILE, queuedJobRuns) },
      ws.workspaceId,
      merge.id,
    );
    expect(undone).toMatchObject({ restored_profile: visitor, survivor: sam });
    const eventsOf = async (id: string) => (await storedEventsOf(id)).map((e) => e.messageId).sort();
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toMatchObject({ status: "ok" });
    expect(await eventsOf(visitor)).toEqual([cart.messageId]);
    expect(await eventsOf(sam)).toEqual([login.messageId, checkout.messageId].sort());
    // Kept for a later try: the fold would be owed still, had the undo failed before its split.
    expect(left).toEqual([[job]]);

    // Its retry, once the undo committed: the graph no longer holds the merge, so nothing happens.
    expect(await runJob(ingestDepsFor(env), job, { quiet: true })).toEqual([]);
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toMatchObject({ status: "ok" });
    expect(await eventsOf(sam)).toEqual([login.messageId, checkout.messageId].sort());
  });
});
