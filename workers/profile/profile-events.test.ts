import { env } from "cloudflare:workers";
import { type AcceptedMessage, MAX_EVENT_PAGE_CHARS } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { freshId, identify, ingestInput, track } from "../test-support/messages";
import type { EventQuery } from "./profile-rpc";
import { profileStub } from "./profile-stub";

/** Walks every page of a query, returning the messageIds in the order served. */
async function walk(id: string, q: Omit<EventQuery, "cursor">): Promise<{ ids: string[]; pages: number }> {
  const stub = profileStub(env.PROFILE, id);
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const read = await stub.listEvents({ ...q, cursor });
    if (read.status !== "ok") throw new Error(read.status);
    pages++;
    ids.push(...read.page.data.map((e) => e.messageId));
    expect(read.page.data.length).toBeLessThanOrEqual(q.limit);
    if (!read.page.cursor.has_more) {
      expect(read.page.cursor.next).toBeNull();
      return { ids, pages };
    }
    cursor = read.page.cursor.next ?? undefined;
  }
}

/** 30 messages: many sharing a timestamp (tiebreak matters), three names, tracks mixed with identifies. */
function timeline(): AcceptedMessage[] {
  const messages: AcceptedMessage[] = [];
  for (let i = 0; i < 30; i++) {
    const at = new Date(Date.UTC(2026, 0, 1, 0, Math.floor(i / 4))).toISOString();
    messages.push(i % 5 === 4 ? identify({ n: i }, at) : track(["A", "B", "C"][i % 3] as string, at));
  }
  return messages;
}

/** The expected newest-first order: by timestamp, then later-stored first. */
function newestFirst(messages: AcceptedMessage[]): string[] {
  return messages
    .map((m, i) => ({ m, i }))
    .sort((x, y) => Date.parse(y.m.timestamp) - Date.parse(x.m.timestamp) || y.i - x.i)
    .map((x) => x.m.messageId);
}

describe("ProfileDO.listEvents", () => {
  it("pages newest first across pages without duplicates or gaps", async () => {
    const id = freshId("prf");
    const messages = timeline();
    // Stored in two batches, the second out of time order, as an offline queue would deliver it.
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, messages.slice(0, 15)));
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, messages.slice(15)));
    const { ids, pages } = await walk(id, { limit: 7 });
    expect(pages).toBe(5);
    expect(ids).toEqual(newestFirst(messages));
  });

  it("filters by track event name across pages", async () => {
    const id = freshId("prf");
    const messages = timeline();
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, messages));
    const expected = newestFirst(messages.filter((m) => m.type === "track" && m.event === "B"));
    expect(expected.length).toBeGreaterThan(3);
    expect((await walk(id, { limit: 3, event: "B" })).ids).toEqual(expected);
  });

  it("filters by message type and combines with the event filter", async () => {
    const id = freshId("prf");
    const messages = timeline();
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, messages));
    expect((await walk(id, { limit: 2, type: "identify" })).ids).toEqual(
      newestFirst(messages.filter((m) => m.type === "identify")),
    );
    expect((await walk(id, { limit: 2, type: "identify", event: "A" })).ids).toEqual([]);
  });

  it("returns the stored message as accepted", async () => {
    const id = freshId("prf");
    const m = track("Order Completed", "2026-01-01T00:00:00.000Z", {
      properties: { total: 42, items: [{ sku: "x" }] },
      context: { ip: "203.0.113.9" },
    } as Partial<AcceptedMessage>);
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, [m]));
    const read = await profileStub(env.PROFILE, id).listEvents({ limit: 1 });
    expect(read).toEqual({ status: "ok", page: { data: [m], cursor: { has_more: false, next: null } } });
  });

  it("clamps a limit outside 1..1000 and rejects a cursor it did not issue", async () => {
    const id = freshId("prf");
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, timeline()));
    const zero = await profileStub(env.PROFILE, id).listEvents({ limit: 0 });
    if (zero.status !== "ok") throw new Error(zero.status);
    expect(zero.page.data).toHaveLength(1);
    const huge = await profileStub(env.PROFILE, id).listEvents({ limit: 5000 });
    if (huge.status !== "ok") throw new Error(huge.status);
    expect(huge.page.data).toHaveLength(30);
    expect(await profileStub(env.PROFILE, id).listEvents({ limit: 5, cursor: "not-a-cursor" })).toEqual({
      status: "invalid_cursor",
    });
  });

  it("stops a page of large events short of what one RPC carries, and the cursor goes on from there", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    // 1,001 events of ~31 KB (a cart in its properties): a full page of 1,000 would be ~31 MB of JSON to one RPC.
    const cart = "c".repeat(31_000);
    const all: string[] = [];
    for (let b = 0; b < 1_001; b += 143) {
      const batch = Array.from({ length: Math.min(143, 1_001 - b) }, (_, i) =>
        track("Cart Viewed", new Date(Date.UTC(2026, 0, 1) + (b + i) * 1000).toISOString(), { properties: { cart } }),
      );
      all.push(...batch.map((m) => m.messageId));
      await stub.ingest(ingestInput(id, batch));
    }
    const first = await stub.listEvents({ limit: 1000 });
    if (first.status !== "ok") throw new Error(first.status);
    expect(first.page.data.length).toBeGreaterThan(0);
    expect(first.page.data.length).toBeLessThan(1000);
    expect(JSON.stringify(first.page).length).toBeLessThan(MAX_EVENT_PAGE_CHARS + 64 * 1024);
    expect(first.page.cursor.has_more).toBe(true);
    const { ids } = await walk(id, { limit: 1000 });
    expect(ids).toEqual([...all].reverse());
  });
});
