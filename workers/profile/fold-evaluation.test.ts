/**
 * A fold of several chunks evaluates the survivor once, on the merged whole (DESIGN §6): not after each chunk, on part
 * of the merged-away profile's history.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AcceptedMessage, AudienceDefinition } from "@tessera/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { defineAll, LAPSED_STORE_BUYERS } from "../test-support/definitions";
import { freshId, identify, track } from "../test-support/messages";
import { profilesCalling } from "../test-support/profile-calls";
import { outboxDelivered, profileOf } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import { membershipChangesSent, type SendBatchSpy } from "../test-support/sync-messages";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

const OPENED: AudienceDefinition = { event: "Email Opened", within: "60d" };
const PRO: AudienceDefinition = { trait: "plan", op: "eq", value: "pro" };

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * A survivor with only an identify, and a merged-away profile whose fold takes two chunks: an identify setting its
 * email and an in-store order 10 days ago in the first, an email open 5 days ago after 4.5 MB of other events, in the
 * second. The merged whole is in `opened` and `pro`, never in `lapsed`.
 */
async function twoChunkFold() {
  const { workspaceId } = await seedWorkspace();
  const definitionsVersion = await defineAll(workspaceId, {
    audiences: { lapsed: LAPSED_STORE_BUYERS, opened: OPENED, pro: PRO },
  });
  const [loser, survivor] = [freshId("prf"), freshId("prf")];
  await profileStub(env.PROFILE, survivor).ingest({
    profileId: survivor,
    workspaceId,
    messages: [identify({ plan: "pro" }, ago(20 * DAY), { userId: "s" })],
    identifiers: [],
    definitionsVersion,
  });
  const padding = "x".repeat(30_000);
  const history: AcceptedMessage[] = [
    identify({ email: "ann@example.com" }, ago(11 * DAY), { userId: "l" }),
    track("Order Completed", ago(10 * DAY), { properties: { channel: "pos" } }),
    ...Array.from({ length: 150 }, (_, i) =>
      track("Page Viewed", ago(9 * DAY - i * 1000), { properties: { padding } }),
    ),
    track("Email Opened", ago(5 * DAY)),
  ];
  // Stored without the workspace's definitions: the merged-away profile itself is in no audience.
  for (let i = 0; i < history.length; i += 25) {
    await profileStub(env.PROFILE, loser).ingest({
      profileId: loser,
      workspaceId,
      messages: history.slice(i, i + 25),
      identifiers: [],
    });
  }
  await outboxDelivered(survivor);
  expect((await profileOf(survivor)).audiences.map((a) => a.key)).toEqual(["pro"]);
  return { workspaceId, loser, survivor };
}

/** Runs `call` on the merged-away object with its `absorb` calls going through `wrap`. */
function withAbsorb(
  loser: string,
  wrap: Parameters<typeof profilesCalling<"absorb">>[2],
  call: (instance: ProfileDO) => Promise<void>,
) {
  return runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(loser), async (instance) => {
    const object = instance as unknown as { env: Env };
    const ownEnv = object.env;
    object.env = { ...ownEnv, PROFILE: profilesCalling(ownEnv.PROFILE, "absorb", wrap) };
    try {
      await call(instance);
    } finally {
      object.env = ownEnv;
    }
  });
}

const keys = (audiences: Array<{ key: string }>) => audiences.map((a) => a.key).sort();

/**
 * What the survivor's one evaluation of the merged whole sent: it entered `opened`, and `pro` (which it was in
 * already) was restated with the merged traits, which reach destinations; never `lapsed`.
 */
function expectEvaluatedOnceOnTheWhole(sent: SendBatchSpy, survivor: string): void {
  const changes = membershipChangesSent(sent).filter((c) => c.profileId === survivor);
  expect(changes.map((c) => [c.audience, c.member])).toEqual([
    ["opened", true],
    ["pro", true],
  ]);
  expect(changes[1].traits).toMatchObject({ email: "ann@example.com", plan: "pro" });
}

describe("a fold of several chunks", () => {
  it("evaluates the survivor once, on the whole: never in an audience only part of the history qualifies for", async () => {
    const { loser, survivor } = await twoChunkFold();
    const sent = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    const between: string[][] = [];
    let chunks = 0;
    await withAbsorb(
      loser,
      (absorb) => async (from, opts) => {
        const outcome = await absorb(from, opts);
        if (++chunks === 1) between.push(keys((await profileOf(survivor)).audiences));
        return outcome;
      },
      (instance) => instance.mergeInto(survivor),
    );
    await outboxDelivered(survivor);

    expect(chunks).toBe(2);
    // A read between the chunks sees the survivor as it was.
    expect(between).toEqual([["pro"]]);
    expect(keys((await profileOf(survivor)).audiences)).toEqual(["opened", "pro"]);
    expectEvaluatedOnceOnTheWhole(sent, survivor);
  });

  it("evaluates once, restating the first chunk's traits, when a retried fold had stopped between chunks", async () => {
    const { loser, survivor } = await twoChunkFold();
    const sent = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    let calls = 0;
    await withAbsorb(
      loser,
      (absorb) => async (from, opts) => {
        // The second chunk never arrives: the isolate went away, or the survivor was busy.
        if (++calls === 2) throw new Error("the survivor could not be reached");
        return absorb(from, opts);
      },
      (instance) => expect(instance.mergeInto(survivor)).rejects.toThrow(/could not be reached/),
    );
    // Half folded: the survivor is judged on nothing of it yet.
    expect(keys((await profileOf(survivor)).audiences)).toEqual(["pro"]);

    // The alarm retries the fold from its first chunk, which now changes nothing.
    expect(await runDurableObjectAlarm(env.PROFILE.getByName(loser))).toBe(true);
    await outboxDelivered(survivor);

    expect(keys((await profileOf(survivor)).audiences)).toEqual(["opened", "pro"]);
    expectEvaluatedOnceOnTheWhole(sent, survivor);
  });
});
