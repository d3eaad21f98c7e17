/**
 * A merge reaches the MAPs (DESIGN §4 merges, §7 sync): the loser's memberships exit, and the survivor's are restated
 * with the merged traits and identifiers, so each destination upserts the merged contact even in audiences the
 * survivor was in before the merge.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { profileStub } from "../profile/profile-stub";
import { defineAll } from "../test-support/definitions";
import { freshId, identify } from "../test-support/messages";
import { outboxDelivered } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import { membershipChangesSent } from "../test-support/sync-messages";

afterEach(() => {
  vi.restoreAllMocks();
});

const at = (minutes: number) => new Date(Date.parse("2026-04-01T00:00:00.000Z") + minutes * 60_000).toISOString();

describe("a merge of two members", { timeout: 60_000 }, () => {
  it("exits the loser's memberships and restates the survivor's with the merged traits", async () => {
    const sent = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    const { workspaceId } = await seedWorkspace();
    const definitionsVersion = await defineAll(workspaceId, {
      audiences: { vip: { trait: "plan", op: "eq", value: "pro" } },
    });
    const survivor = freshId("prf");
    const loser = freshId("prf");
    const ingest = (profileId: string, traits: Record<string, string>, minute: number, userId: string) =>
      profileStub(env.PROFILE, profileId).ingest({
        profileId,
        workspaceId,
        messages: [identify(traits, at(minute), { userId })],
        identifiers: [{ type: "user_id", value: userId, firstSeen: Date.parse(at(minute)) }],
        definitionsVersion,
      });
    await ingest(survivor, { plan: "pro", email: "jo@example.com" }, 1, "u-survivor");
    await ingest(loser, { plan: "pro", first_name: "Jo" }, 2, "u-loser");
    await outboxDelivered(survivor);
    await outboxDelivered(loser);
    sent.mockClear();

    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    await outboxDelivered(loser);
    await outboxDelivered(survivor);

    const changes = membershipChangesSent(sent);
    const of = (profileId: string) => changes.filter((c) => c.profileId === profileId && c.audience === "vip");
    expect(of(loser).map((c) => c.member)).toEqual([false]);
    const restated = of(survivor);
    expect(restated.map((c) => c.member)).toEqual([true]);
    expect(restated[0].traits).toMatchObject({ plan: "pro", email: "jo@example.com", first_name: "Jo" });
  });
});
