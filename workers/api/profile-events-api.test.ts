import type { AcceptedMessage, ProfileEventsPage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { identify, track } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";

const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 0, minute)).toISOString();

async function timeline(messages: AcceptedMessage[]) {
  const ws = await seedWorkspace();
  const [profileId] = await store(ws.workspaceId, messages);
  const page = async (query: string) => {
    const res = await api(`/v1/profiles/${profileId}/events${query}`, bearer(ws.secretKey));
    return { status: res.status, body: await res.json<ProfileEventsPage & { error?: { message: string } }>() };
  };
  /** Every page of a query, following cursors, as message ids. */
  const all = async (query: string) => {
    const ids: string[][] = [];
    let cursor: string | null = null;
    do {
      const sep = query ? "&" : "?";
      const { status, body } = await page(cursor ? `${query}${sep}cursor=${encodeURIComponent(cursor)}` : query);
      expect(status).toBe(200);
      ids.push(body.data.map((m) => m.messageId));
      cursor = body.cursor.has_more ? body.cursor.next : null;
    } while (cursor);
    return ids;
  };
  return { profileId, page, all, secretKey: ws.secretKey };
}

const anon = { anonymousId: "anon-events" };

describe("GET /v1/profiles/:ref/events", () => {
  it("pages newest first through the cursor until has_more is false", async () => {
    const messages = [0, 1, 2, 3, 4].map((m) => track(`E${m}`, at(m), anon));
    const { all } = await timeline(messages);
    const newestFirst = messages.map((m) => m.messageId).reverse();
    expect(await all("?limit=2")).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
  });

  it("filters by event name and by message type, across pages", async () => {
    const messages = [
      track("Order Completed", at(1), anon),
      identify({ plan: "pro" }, at(2), anon),
      track("Order Completed", at(3), anon),
      track("Email Opened", at(4), anon),
      track("Order Completed", at(5), anon),
    ];
    const { all } = await timeline(messages);
    const ids = (idx: number[]) => idx.map((i) => messages[i].messageId);
    expect(await all("?event=Order%20Completed&limit=2")).toEqual([ids([4, 2]), ids([0])]);
    expect(await all("?type=identify")).toEqual([ids([1])]);
    expect(await all("?type=track&event=Email+Opened")).toEqual([ids([3])]);
    expect(await all("?event=Never%20Happened")).toEqual([[]]);
  });

  it("serves 50 events by default and up to the limit asked", async () => {
    const messages = Array.from({ length: 55 }, (_, i) => track("Tick", at(i), anon));
    const { page } = await timeline(messages);
    const first = await page("");
    expect(first.body.data).toHaveLength(50);
    expect(first.body.cursor).toMatchObject({ has_more: true, next: expect.any(String) });
    const big = await page("?limit=1000");
    expect(big.body.data).toHaveLength(55);
    expect(big.body.cursor).toEqual({ has_more: false, next: null });
  });

  it("answers 400 naming the parameter for a bad limit, type or cursor", async () => {
    const { page } = await timeline([track("A", at(1), anon)]);
    const cases: Array<[string, RegExp]> = [
      ["?limit=0", /limit must be a whole number from 1 to 1000/],
      ["?limit=1001", /limit must be a whole number from 1 to 1000/],
      ["?limit=abc", /limit must be a whole number from 1 to 1000/],
      ["?type=click", /type must be one of/],
      ["?cursor=bm90LWEtY3Vyc29y", /cursor/],
      ["?cursor=%25%25%25", /cursor/],
    ];
    for (const [query, message] of cases) {
      const { status, body } = await page(query);
      expect(status, query).toBe(400);
      expect(body.error?.message, query).toMatch(message);
    }
  });
});
