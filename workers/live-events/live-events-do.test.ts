import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { uid } from "../test-support/worker-requests";
import type { LiveEventInput, LiveEventsDO } from "./live-events-do";

const input = (event: string): LiveEventInput => ({
  at: new Date().toISOString(),
  status: "accepted",
  error: null,
  type: "track",
  event,
  message_id: uid("m"),
  user_id: null,
  anonymous_id: "a",
  message: { type: "track", event },
});

const events = (names: string[]) => names.map(input);
const shown = (page: { data: Array<{ event: string | null }> }) => page.data.map((e) => e.event);

describe("LiveEventsDO started again", () => {
  it("shows a reader every message of a new feed, whatever cursor it kept from the one before", async () => {
    const stub = env.LIVE_EVENTS.getByName(uid("ws"));
    // A reader of an earlier feed kept cursor 3; this feed is new and records five messages.
    await runInDurableObject<LiveEventsDO, void>(stub, async (feed) => {
      feed.record(events(["N1", "N2", "N3", "N4", "N5"]));
      expect(shown(await feed.read(3, 0))).toEqual(["N1", "N2", "N3", "N4", "N5"]);
    });
  });

  it("numbers a feed started after an eviction past every seq the one before gave", async () => {
    const name = uid("ws");
    const before = await runInDurableObject<LiveEventsDO, { cursor: number; seqs: number[] }>(
      env.LIVE_EVENTS.getByName(name),
      async (feed) => {
        feed.record(events(["Old1", "Old2", "Old3", "Old4", "Old5", "Old6"]));
        const page = await feed.read(0, 0);
        return { cursor: page.cursor, seqs: page.data.map((e) => e.seq) };
      },
    );
    // The object goes away, and its memory with it; the next call starts a new one.
    await expect(
      runInDurableObject<LiveEventsDO, void>(env.LIVE_EVENTS.getByName(name), (_, state) => state.abort("evicted")),
    ).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 5));

    await runInDurableObject<LiveEventsDO, void>(env.LIVE_EVENTS.getByName(name), async (feed) => {
      expect(shown(await feed.read(0, 0))).toEqual([]);
      feed.record(events(["New1", "New2"]));
      const page = await feed.read(before.cursor, 0);
      expect(shown(page)).toEqual(["New1", "New2"]);
      // A page never shows a seq it showed for another message, and the cursor only moves forward.
      expect(Math.min(...page.data.map((e) => e.seq))).toBeGreaterThan(Math.max(...before.seqs));
      expect(page.cursor).toBeGreaterThan(before.cursor);
      expect((await feed.read(page.cursor, 0)).data).toEqual([]);
    });
  });

  it("holds a reader of a new, empty feed until something arrives", async () => {
    await runInDurableObject<LiveEventsDO, void>(env.LIVE_EVENTS.getByName(uid("ws")), async (feed) => {
      const waiting = feed.read(0, 20_000);
      feed.record(events(["Arrived"]));
      expect(shown(await waiting)).toEqual(["Arrived"]);
    });
  });
});
