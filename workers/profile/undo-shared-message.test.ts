/**
 * A message both profiles held (one delivery resolved to each before they were linked) is stored once by the merge,
 * in the survivor's copy; undoing the merge gives the merged-away profile its copy back, and the traits it set.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, identify, ingestInput, track } from "../test-support/messages";
import { undoAtObjects } from "../test-support/object-undo";
import { profileOf } from "../test-support/profile-reads";
import { profileStub } from "./profile-stub";

const T0 = Date.parse("2026-04-01T00:00:00.000Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

describe("a merge undo after a message both profiles held", () => {
  it("gives the merged-away profile the message and its traits, and leaves the survivor its own copy", async () => {
    const [loser, survivor] = [freshId("prf"), freshId("prf")];
    const shared = identify({ plan: "pro", city: "Oslo" }, at(0));
    await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [shared, track("Loser Event", at(10))]));
    const again = { ...shared, receivedAt: at(6) };
    await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, [again, track("Survivor Event", at(20))]));
    const before = await profileOf(loser);

    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    expect((await profileOf(survivor)).event_count).toBe(3);
    await undoAtObjects(loser, survivor, T0);

    const after = await profileOf(loser);
    expect(after.event_count).toBe(2);
    expect(after.traits).toEqual(before.traits);
    expect(after.traits).toEqual({ plan: "pro", city: "Oslo" });
    const kept = await profileOf(survivor);
    expect(kept.event_count).toBe(2);
    expect(kept.traits).toEqual({ plan: "pro", city: "Oslo" });
  });
});
