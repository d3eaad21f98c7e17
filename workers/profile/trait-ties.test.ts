import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AcceptedMessage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { freshId, identify, ingestInput } from "../test-support/messages";
import { profileOf } from "../test-support/profile-reads";
import type { ProfileDO } from "./profile-do";
import type { ProfileExport } from "./profile-rpc";
import { profileStub } from "./profile-stub";

const T = "2026-06-01T00:00:00.000Z";
const RECEIVED = "2026-06-01T00:00:05.000Z";
const RECEIVED_LATER = "2026-06-01T00:00:07.000Z";

/** An identify setting `plan` at {@link T}, with a fixed messageId so the tie-break by id is known. */
const planAt = (plan: string, messageId: string, receivedAt = RECEIVED) =>
  identify({ plan }, T, { messageId, receivedAt });

async function planOf(id: string): Promise<unknown> {
  return (await profileOf(id)).traits.plan;
}

/** What one profile holds after `batches` arrive in that order, one ingest call each. */
async function onOneProfile(...batches: AcceptedMessage[][]): Promise<unknown> {
  const id = freshId("prf");
  for (const batch of batches) await profileStub(env.PROFILE, id).ingest(ingestInput(id, batch));
  return planOf(id);
}

/** `loserMessages` on a profile merged into one that holds `survivorMessages`: what the survivor holds. */
async function merged(survivorMessages: AcceptedMessage[], loserMessages: AcceptedMessage[]): Promise<unknown> {
  const [survivor, loser] = [freshId("prf"), freshId("prf")];
  await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, survivorMessages));
  await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, loserMessages));
  await profileStub(env.PROFILE, loser).mergeInto(survivor);
  return planOf(survivor);
}

describe("trait ties at equal event times", () => {
  it("lets the later received message win, on one profile and across a merge, whichever profile survives", async () => {
    // m1 set plan=free and was received later; m2 set plan=pro at the same event time and was received earlier.
    const m1 = planAt("free", "msg_tie_a", RECEIVED_LATER);
    const m2 = planAt("pro", "msg_tie_b", RECEIVED);
    expect(await onOneProfile([m1], [m2])).toBe("free");
    expect(await onOneProfile([m2], [m1])).toBe("free");
    expect(await merged([m1], [m2])).toBe("free");
    expect(await merged([m2], [m1])).toBe("free");
  });

  it("at a full tie goes to the later arrival on one profile, and to the greater messageId in a merge", async () => {
    // One collector request stamps all its messages with one receivedAt: on one profile the later of two identify
    // calls of the same millisecond wins, as they were made. Across a merge nothing orders the two, so the greater
    // messageId wins whichever profile survives.
    const m1 = planAt("free", "msg_tie_b");
    const m2 = planAt("pro", "msg_tie_a");
    expect([
      await onOneProfile([m1], [m2]),
      await onOneProfile([m2], [m1]),
      await onOneProfile([m1, m2]),
      await onOneProfile([m2, m1]),
    ]).toEqual(["pro", "free", "pro", "free"]);
    expect([await merged([m1], [m2]), await merged([m2], [m1])]).toEqual(["free", "free"]);
  });

  it("lets a re-sent fold change nothing, and a later message win at a full tie only when it lands after the fold", async () => {
    const fromLoser = planAt("free", "msg_tie_c");
    const onSurvivor = planAt("pro", "msg_tie_a");
    const later = planAt("team", "msg_tie_b");

    const outcomes: unknown[] = [];
    for (const laterFirst of [true, false]) {
      const [survivor, loser] = [freshId("prf"), freshId("prf")];
      await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, [onSurvivor]));
      await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [fromLoser]));
      if (laterFirst) await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, [later]));
      await profileStub(env.PROFILE, loser).mergeInto(survivor);
      // The loser's export delivered again (a retried fold): the same trait with the same stamp.
      const again: ProfileExport = {
        profileId: loser,
        workspaceId: "ws_test",
        createdAt: Date.parse(T),
        events: [fromLoser],
        traits: [
          {
            key: "plan",
            value: "free",
            updatedAt: Date.parse(T),
            receivedAt: Date.parse(RECEIVED),
            messageId: "msg_tie_c",
          },
        ],
        identifiers: [],
        mergedFrom: [],
      };
      const before = await profileOf(survivor);
      await profileStub(env.PROFILE, survivor).absorb(again);
      expect(await profileOf(survivor)).toEqual(before);
      if (!laterFirst) await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, [later]));
      outcomes.push(await planOf(survivor));
    }
    // Later first: the fold's full tie goes by messageId (msg_tie_c over msg_tie_b). Fold first: the later arrival.
    expect(outcomes).toEqual(["free", "team"]);
  });

  it("keeps identify traits over context.traits of the same message, which the value order would not", async () => {
    const both = identify({ plan: "free" }, T, { context: { traits: { plan: "pro" } } });
    expect(await onOneProfile([both])).toBe("free");
    expect(await merged([], [both])).toBe("free");
  });

  it("puts a value stored before traits kept their message behind any message with the same times", async () => {
    /** A profile holding plan=old at the tie's times, as code before the message_id column left it. */
    const legacy = async () => {
      const id = freshId("prf");
      await profileStub(env.PROFILE, id).ingest(ingestInput(id, [planAt("old", "msg_tie_z")]));
      await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(id), (_i, state) => {
        state.storage.sql.exec("UPDATE traits SET message_id = NULL");
      });
      return id;
    };
    const message = planAt("new", "msg_tie_a");
    const one = await legacy();
    await profileStub(env.PROFILE, one).ingest(ingestInput(one, [message]));
    expect(await planOf(one)).toBe("new");

    for (const legacySurvives of [true, false]) {
      const [old, other] = [await legacy(), freshId("prf")];
      await profileStub(env.PROFILE, other).ingest(ingestInput(other, [message]));
      const [survivor, loser] = legacySurvives ? [old, other] : [other, old];
      await profileStub(env.PROFILE, loser).mergeInto(survivor);
      expect(await planOf(survivor)).toBe("new");
    }
  });
});
