/**
 * The cron's sweep of merges whose fold nobody recorded: the merged-away object was unreachable when the merge asked
 * it to fold, and the ingest retry queue refused the job too, so nothing else would ever ask it again.
 */
import { env } from "cloudflare:workers";
import type { AcceptedMessage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { profileStub } from "../profile/profile-stub";
import { identify, track } from "../test-support/messages";
import { profilesCalling } from "../test-support/profile-calls";
import { storedEventsOf } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import { store } from "../test-support/store-messages";
import { uid } from "../test-support/worker-requests";
import { identityStoreFor } from "./cached-identity-store";
import { FOLD_GRACE_MS, sweepUnfoldedMerges } from "./fold-sweep";

/** The journal's record of the live merge of `from`: when its fold was recorded (null: owed). */
const foldedAtOf = (from: string) =>
  env.DB.prepare("SELECT folded_at AS f FROM merges WHERE from_profile = ? AND undone_at IS NULL")
    .bind(from)
    .first<{ f: number | null }>("f");

const eventIdsOf = async (id: string) => (await storedEventsOf(id)).map((e) => e.messageId).sort();

/** `env.PROFILE`, counting the `mergeInto` calls each object gets. */
function countingMerges(calls: Map<string, number>): Env["PROFILE"] {
  return profilesCalling(env.PROFILE, "mergeInto", (mergeInto, id) => (into, self) => {
    calls.set(id, (calls.get(id) ?? 0) + 1);
    return mergeInto(into, self);
  });
}

/** Stores `checkout` (which merges the visitor into Sam) while every object refuses to fold; the queue refuses the job. */
async function mergeNobodyFolds(workspaceId: string, checkout: AcceptedMessage) {
  const unreachable = profilesCalling(env.PROFILE, "mergeInto", () => async () => {
    throw new Error("the object could not be reached");
  });
  const deps = ingestDepsFor({ ...env, PROFILE: unreachable });
  return ingestMessages(deps, workspaceId, [{ index: 0, message: checkout }], { quiet: true });
}

/** Sam (by user id) and an anonymous visitor's profile, each holding one event of its own. */
async function samAndVisitor(name: string) {
  const ws = await seedWorkspace(name);
  const [user, anon] = [uid("u"), uid("a")];
  const login = identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user });
  const cart = track("Added to Cart", "2026-01-02T00:00:00.000Z", { anonymousId: anon });
  const [sam, visitor] = (await store(ws.workspaceId, [login, cart])) as string[];
  const checkout = track("Checkout", "2026-01-03T00:00:00.000Z", { anonymousId: anon, userId: user });
  return { workspaceId: ws.workspaceId, sam, visitor, login, cart, checkout };
}

describe("the cron's sweep of owed folds", () => {
  it("folds a merged-away profile whose object refused the fold and whose retry job the queue refused", async () => {
    const { workspaceId, sam, visitor, login, cart, checkout } = await samAndVisitor("fold-sweep");
    const report = await mergeNobodyFolds(workspaceId, checkout);
    expect(report.failed).toEqual([{ kind: "merge", workspaceId, from: visitor, into: sam }]);
    // The retry queue refuses the job: nobody asks the visitor's object again.
    expect(await foldedAtOf(visitor)).toBeNull();
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toMatchObject({ status: "ok" });

    // Within the grace period the fold may still be on its way: the sweep leaves it.
    const early = await sweepUnfoldedMerges(env);
    expect(early.map((m) => m.fromProfile)).not.toContain(visitor);
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toMatchObject({ status: "ok" });

    const later = Date.now() + FOLD_GRACE_MS;
    const swept = await sweepUnfoldedMerges(env, later);
    expect(swept).toContainEqual({
      workspaceId,
      fromProfile: visitor,
      intoProfile: sam,
      erased: false,
      createdAt: expect.any(Number),
    });
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toEqual({ status: "redirect", to: sam });
    expect(await eventIdsOf(sam)).toEqual([login.messageId, cart.messageId, checkout.messageId].sort());
    expect(await foldedAtOf(visitor)).toEqual(expect.any(Number));

    // Recorded: the next minute asks the visitor's object nothing.
    const calls = new Map<string, number>();
    const again = await sweepUnfoldedMerges({ ...env, PROFILE: countingMerges(calls) }, later + 60_000);
    expect(again.map((m) => m.fromProfile)).not.toContain(visitor);
    expect(calls.get(visitor)).toBeUndefined();
  });

  it("asks an object whose fold keeps failing again when its merge's age has doubled, until it folds", async () => {
    const { workspaceId, sam, visitor, checkout } = await samAndVisitor("fold-backoff");
    await mergeNobodyFolds(workspaceId, checkout);
    const journaledAt = (await env.DB.prepare("SELECT created_at AS c FROM merges WHERE from_profile = ?")
      .bind(visitor)
      .first<number>("c")) as number;
    const calls = new Map<string, number>();
    const refusing = profilesCalling(env.PROFILE, "mergeInto", (_, id) => async () => {
      calls.set(id, (calls.get(id) ?? 0) + 1);
      throw new Error("the object could not be reached");
    });
    const sweepAt = (minutes: number, profiles = refusing) =>
      sweepUnfoldedMerges({ ...env, PROFILE: profiles }, journaledAt + minutes * 60_000);

    // First asked once the grace period is over (5 minutes old): it fails, and is due again at 10 minutes old.
    await sweepAt(5);
    expect(calls.get(visitor)).toBe(1);
    await sweepAt(6);
    await sweepAt(9);
    expect(calls.get(visitor)).toBe(1);
    await sweepAt(10);
    expect(calls.get(visitor)).toBe(2);
    // Then at 20 minutes old, not before.
    await sweepAt(19);
    expect(calls.get(visitor)).toBe(2);
    await sweepAt(20);
    expect(calls.get(visitor)).toBe(3);

    // The object is reachable again: the next due sweep folds it, and it is never asked after.
    const swept = await sweepAt(40, env.PROFILE);
    expect(swept.map((m) => m.fromProfile)).toContain(visitor);
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toEqual({ status: "redirect", to: sam });
    await sweepAt(100);
    expect(calls.get(visitor)).toBe(3);
  });

  it("is told of a fold done when its merge asked, and never asks that object", async () => {
    const { workspaceId, sam, visitor, cart, checkout } = await samAndVisitor("fold-recorded");
    await store(workspaceId, [checkout]);
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toEqual({ status: "redirect", to: sam });
    expect(await eventIdsOf(sam)).toContain(cart.messageId);
    expect(await foldedAtOf(visitor)).toEqual(expect.any(Number));

    const calls = new Map<string, number>();
    await sweepUnfoldedMerges({ ...env, PROFILE: countingMerges(calls) }, Date.now() + FOLD_GRACE_MS);
    expect(calls.get(visitor)).toBeUndefined();
  });

  it("records a merged-away profile erased before its fold as owed nothing, without asking its object", async () => {
    const { workspaceId, sam, visitor, checkout } = await samAndVisitor("fold-erased");
    expect((await mergeNobodyFolds(workspaceId, checkout)).failed).toHaveLength(1);
    expect((await identityStoreFor(env).erase(workspaceId, sam)).profileIds).toContain(visitor);

    const calls = new Map<string, number>();
    const swept = await sweepUnfoldedMerges({ ...env, PROFILE: countingMerges(calls) }, Date.now() + FOLD_GRACE_MS);
    expect(swept).toContainEqual({
      workspaceId,
      fromProfile: visitor,
      intoProfile: sam,
      erased: true,
      createdAt: expect.any(Number),
    });
    expect(calls.get(visitor)).toBeUndefined();
    expect(await foldedAtOf(visitor)).toEqual(expect.any(Number));
  });
});
