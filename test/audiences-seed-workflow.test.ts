import type { Audience, AudienceMembersPage, Profile } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { secretApi, sendBatch } from "./support/dev-api";
import { useDevServer } from "./support/dev-server";
import { pollUntil } from "./support/poll-until";

const DAY = 86_400_000;
const SECOND = 1_000;

/** The seed workflow of DESIGN §6: bought in store in the last 30 days and opened no email in 60 days. */
const LAPSED_STORE_BUYERS = {
  all: [
    { event: "Order Completed", where: [{ property: "channel", op: "eq", value: "pos" }], within: "30d" },
    { not: { event: "Email Opened", within: "60d" } },
  ],
};

/**
 * The seed audience over `npm run dev`, as a user drives it: definitions through `/v1/audiences`, backdated history
 * through `/v1/batch`, membership read back from the profile API and the audience's members and size.
 */
describe("audiences against the dev server", () => {
  const dev = useDevServer();

  const api = <T>(method: string, path: string, body?: unknown) => secretApi<T>(dev(), method, path, body);

  const send = (messages: object[]) => sendBatch(dev(), messages);

  const at = (ms: number) => new Date(ms).toISOString();
  const order = (userId: string, channel: string, timestamp: number) => ({
    type: "track",
    userId,
    event: "Order Completed",
    properties: { channel, total: 64.9 },
    timestamp: at(timestamp),
  });
  const emailOpened = (userId: string, timestamp: number) => ({
    type: "track",
    userId,
    event: "Email Opened",
    properties: { campaign: "autumn" },
    timestamp: at(timestamp),
  });

  async function profile(userId: string): Promise<Profile> {
    const res = await api<Profile>("GET", `/v1/profiles/${encodeURIComponent(`user_id:${userId}`)}`);
    expect(res.status).toBe(200);
    return res.body;
  }
  const audienceKeys = (p: Profile) => p.audiences.map((a) => a.key);

  async function audience(key: string): Promise<Audience> {
    const res = await api<Audience>("GET", `/v1/audiences/${key}`);
    expect(res.status).toBe(200);
    return res.body;
  }
  async function memberIds(key: string): Promise<string[]> {
    const res = await api<AudienceMembersPage>("GET", `/v1/audiences/${key}/members?limit=1000`);
    expect(res.status).toBe(200);
    return res.body.data.map((m) => m.profile_id).sort();
  }
  /** Members and size are written to D1 after the profile's commit: wait until both say `expected`. */
  async function expectListed(key: string, expected: string[]): Promise<void> {
    const want = [...expected].sort();
    await pollUntil(
      () => memberIds(key),
      (ids) => JSON.stringify(ids) === JSON.stringify(want),
      { within: 5_000 },
    );
    await pollUntil(
      () => audience(key),
      (a) => a.size === want.length,
      { within: 5_000 },
    );
  }

  describe("the seed audience: bought in store in 30 days, opened no email in 60", () => {
    const key = "lapsed_store_buyers";

    it("is created by POST /v1/audiences and builds over the workspace", async () => {
      const created = await api<Audience>("POST", "/v1/audiences", {
        key,
        name: "Lapsed store buyers",
        definition: LAPSED_STORE_BUYERS,
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ key, name: "Lapsed store buyers", version: 1, size: 0 });
      expect(created.body.definition).toEqual(LAPSED_STORE_BUYERS);
      expect(["building", "ready"]).toContain(created.body.status.state);

      const again = await api<{ error: { code: string } }>("POST", "/v1/audiences", {
        key,
        definition: LAPSED_STORE_BUYERS,
      });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe("conflict");

      const built = await pollUntil(
        () => audience(key),
        (a) => a.status.state === "ready",
        { within: 15_000 },
      );
      expect(built.status.processed).toBe(built.status.total);
    });

    it("takes in a profile with a pos order 10 days ago and its last open 90 days ago, and drops it at its next open", async () => {
      const now = Date.now();
      await send([order("buyer-a", "pos", now - 10 * DAY), emailOpened("buyer-a", now - 90 * DAY)]);

      const a = await profile("buyer-a");
      expect(audienceKeys(a)).toEqual([key]);
      const since = Date.parse(a.audiences[0].since);
      expect(since).toBeGreaterThanOrEqual(now - 5 * SECOND);
      expect(since).toBeLessThanOrEqual(Date.now());
      await expectListed(key, [a.id]);

      // An open now: out in the commit of that event, so the very next read shows it.
      await send([emailOpened("buyer-a", Date.now())]);
      expect(audienceKeys(await profile("buyer-a"))).toEqual([]);
      await expectListed(key, []);
    });

    it("takes in a profile by time alone, at the instant its last open turns 60 days old", async () => {
      const now = Date.now();
      const openedAt = now - (60 * DAY - 4 * SECOND);
      await send([order("buyer-b", "pos", now - 5 * DAY), emailOpened("buyer-b", openedAt)]);

      const before = await profile("buyer-b");
      expect(audienceKeys(before)).toEqual([]);

      // No event from here on: the profile's alarm at the window boundary does it.
      const after = await pollUntil(
        () => profile("buyer-b"),
        (p) => audienceKeys(p).includes(key),
        { within: 8_000, every: 100 },
      );
      expect(audienceKeys(after)).toEqual([key]);
      expect(after.event_count).toBe(2);
      // Not a moment before the boundary (the stored open is as sent or a few ms later).
      expect(Date.parse(after.audiences[0].since)).toBeGreaterThanOrEqual(openedAt + 60 * DAY);
      await expectListed(key, [before.id]);
    });
  });

  describe("backfill", () => {
    it("finds the members among profiles stored before the audience existed, by the time its status is ready", async () => {
      const now = Date.now();
      await send([
        order("web-repeat", "web", now - 20 * DAY),
        order("web-repeat", "web", now - 2 * DAY),
        // One web order in the window and one long before it: not a repeat buyer.
        order("web-once", "web", now - 2 * DAY),
        order("web-once", "web", now - 40 * DAY),
        order("store-only", "pos", now - 2 * DAY),
        order("store-only", "pos", now - 3 * DAY),
      ]);
      const repeat = await profile("web-repeat");
      expect(audienceKeys(repeat)).toEqual([]);

      const key = "web_repeat_buyers";
      const definition = {
        event: "Order Completed",
        where: [{ property: "channel", op: "eq", value: "web" }],
        within: "30d",
        count: { op: "gte", value: 2 },
      };
      const created = await api<Audience>("POST", "/v1/audiences", { key, definition });
      expect(created.status).toBe(201);

      const ready = await pollUntil(
        () => audience(key),
        (a) => a.status.state === "ready",
        { within: 30_000, every: 100 },
      );
      // Every live profile of the workspace was evaluated: the two buyers above, these three.
      expect(ready.status.total).toBeGreaterThanOrEqual(5);
      expect(ready.status.processed).toBe(ready.status.total);
      expect(audienceKeys(await profile("web-repeat"))).toEqual([key]);
      expect(audienceKeys(await profile("web-once"))).toEqual([]);
      // In the seed audience (a recent pos order, no open), never in this one.
      expect(audienceKeys(await profile("store-only"))).toEqual(["lapsed_store_buyers"]);
      await expectListed(key, [repeat.id]);
    });
  });
});
