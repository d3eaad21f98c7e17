/**
 * Paging a profile's timeline while it is merged away: the next page is read from the survivor (the API follows the
 * redirect), whose storage numbering is not the merged-away profile's.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, ingestInput, track } from "../test-support/messages";
import { followRedirects } from "./follow-redirects";
import type { ProfileDO } from "./profile-do";
import type { EventQuery, EventsRead } from "./profile-rpc";
import { profileStub } from "./profile-stub";

const T = "2026-04-01T00:00:00.000Z";

/** One page of `ref`'s timeline as the events route reads it: through the redirects. */
async function page(ref: string, q: EventQuery): Promise<Extract<EventsRead, { status: "ok" }>["page"]> {
  const { result } = await followRedirects(ref, (id) => profileStub(env.PROFILE, id).listEvents(q));
  if (result.status !== "ok") throw new Error(result.status);
  return result.page;
}

/** The messageIds of the pages from `cursor` on, to the end. */
async function rest(ref: string, cursor: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  for (let next: string | null = cursor; next; ) {
    const read = await page(ref, { limit, cursor: next });
    ids.push(...read.data.map((e) => e.messageId));
    next = read.cursor.next;
  }
  return ids;
}

describe("paging the events of a profile merged away between two pages", () => {
  it("serves every event of the merged timeline once, ties on the timestamp included", async () => {
    const [loser, survivor] = [freshId("prf"), freshId("prf")];
    const own = [track("S1", T), track("S2", T)];
    const folded = [track("L1", T), track("L2", T), track("L3", T), track("L4", T)];
    await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, own));
    await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, folded));

    const first = await page(loser, { limit: 2 });
    expect(first.cursor.has_more).toBe(true);
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    const after = await rest(loser, first.cursor.next as string, 2);

    const served = [...first.data.map((e) => e.messageId), ...after];
    expect(new Set(served).size).toBe(served.length);
    expect([...served].sort()).toEqual([...own, ...folded].map((m) => m.messageId).sort());
  });

  it("goes on from a cursor of its own timeline as before, once the event it names moved to another profile", async () => {
    const [loser, survivor] = [freshId("prf"), freshId("prf")];
    const own = [track("S1", T), track("S2", T), track("S3", T)];
    await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, own));
    const lost = track("L1", T);
    await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [lost]));
    await profileStub(env.PROFILE, loser).mergeInto(survivor);

    // Newest first: the folded event, then the survivor's own from the latest stored.
    const first = await page(survivor, { limit: 2 });
    expect(first.data.map((e) => e.messageId)).toEqual([lost.messageId, own[2]?.messageId]);
    // A merge undo takes the folded event back; the survivor's cursor still names its own position.
    await profileStub(env.PROFILE, survivor).dropOrigins({
      workspaceId: "ws_test",
      definitionsVersion: 0,
      origins: [loser],
      through: { profileId: survivor, seq: Number.MAX_SAFE_INTEGER },
    });
    const second = await page(survivor, { limit: 2, cursor: first.cursor.next as string });
    expect(second.data.map((e) => e.messageId)).toEqual([own[1]?.messageId, own[0]?.messageId]);
  });
});

describe("an events cursor issued before cursors named their event", () => {
  it("still goes on from where it stood", async () => {
    const id = freshId("prf");
    const events = [track("E1", "2026-04-01T00:00:01.000Z"), track("E2", T), track("E3", T)];
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, events));
    const [ts, seq] = await runInDurableObject<ProfileDO, [number, number]>(env.PROFILE.getByName(id), (_i, state) => {
      const row = state.storage.sql
        .exec<{ ts: number; seq: number }>("SELECT ts, seq FROM events WHERE message_id = ?", events[2]?.messageId)
        .one();
      return [row.ts, row.seq];
    });
    // What older code handed out: base64url of "ts.seq".
    const legacy = btoa(`${ts}.${seq}`).replace(/=+$/, "");
    expect((await page(id, { limit: 5, cursor: legacy })).data.map((e) => e.messageId)).toEqual([events[1]?.messageId]);
  });
});
