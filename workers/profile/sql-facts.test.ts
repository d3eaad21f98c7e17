import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AcceptedMessage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import type { EventQuery } from "../audiences/profile-facts";
import { identify, track } from "../test-support/messages";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";
import { sqlFacts } from "./sql-facts";

const T0 = Date.UTC(2026, 0, 1);
const at = (minute: number) => new Date(T0 + minute * 60_000).toISOString();

/** `n` messages: tracks named A, B or C (some sharing a timestamp), and an identify every tenth. */
function history(n: number): AcceptedMessage[] {
  return Array.from({ length: n }, (_, i) =>
    i % 10 === 9
      ? identify({ plan: "pro" }, at(i))
      : track(["A", "B", "C"][i % 3] as string, at(Math.floor(i / 2)), { properties: { i } }),
  );
}

/**
 * What the queries must answer: matching tracks, newest first, the later stored first on equal timestamps (oldest
 * first, the earlier stored first, when asked).
 */
function expected(messages: AcceptedMessage[], { event, since, oldestFirst }: EventQuery): number[] {
  const order = oldestFirst ? 1 : -1;
  return messages
    .map((m, seq) => ({ m, seq, ts: Date.parse(m.timestamp as string) }))
    .filter(({ m, ts }) => m.type === "track" && (event === "*" || m.event === event) && ts >= (since ?? -Infinity))
    .sort((x, y) => order * (x.ts - y.ts || x.seq - y.seq))
    .map(({ m }) => (m.properties as { i: number }).i);
}

const QUERIES: EventQuery[] = [
  { event: "A" },
  { event: "*" },
  { event: "B", since: T0 + 60 * 60_000 },
  { event: "*", since: T0 + 100 * 60_000 },
  { event: "Nothing" },
  { event: "A", oldestFirst: true },
  { event: "*", since: T0 + 100 * 60_000, oldestFirst: true },
];

describe("a profile's events as evaluation reads them", () => {
  // 256 and fewer are read once and filtered in memory; 257 and more are queried per condition: both must agree.
  it.each([12, 256, 257, 400])("answer every query in timeline order with %i messages stored", async (n) => {
    const profileId = newId("prf");
    const messages = history(n);
    const stub = profileStub(env.PROFILE, profileId);
    await stub.ingest({ profileId, workspaceId: "ws_facts", messages, identifiers: [] });
    await runInDurableObject(env.PROFILE.getByName(profileId), (_: ProfileDO, state) => {
      const facts = sqlFacts(state.storage.sql);
      for (const query of QUERIES) {
        const seen = [...facts.events(query)].map((e) => (e.message.properties as { i: number }).i);
        expect(seen, JSON.stringify(query)).toEqual(expected(messages, query));
      }
      // A reader that stops early still sees the newest first.
      const [first] = facts.events({ event: "*" });
      expect(first?.message.properties).toEqual({ i: expected(messages, { event: "*" })[0] });
    });
  });
});

describe("the event log as carried-forward computed traits read it", () => {
  const props = (events: Iterable<{ message: Record<string, unknown> }> | null) =>
    events && [...events].map((e) => (e.message.properties as { i: number }).i);

  it("hands over exactly the events appended since a position, and nothing once an event was removed", async () => {
    const profileId = newId("prf");
    const messages = history(30);
    const stub = profileStub(env.PROFILE, profileId);
    await stub.ingest({ profileId, workspaceId: "ws_facts", messages: messages.slice(0, 20), identifiers: [] });
    const before = await runInDurableObject(env.PROFILE.getByName(profileId), (_: ProfileDO, state) =>
      sqlFacts(state.storage.sql).log?.position(),
    );
    expect(before).toMatchObject({ count: 20, messageId: messages[19].messageId });
    await stub.ingest({ profileId, workspaceId: "ws_facts", messages: messages.slice(15, 25), identifiers: [] });
    await runInDurableObject(env.PROFILE.getByName(profileId), (_: ProfileDO, state) => {
      const sql = state.storage.sql;
      const log = sqlFacts(sql).log;
      if (!log || !before) throw new Error("no log");
      // Rows 15–19 were duplicates: only 20–24 were stored, in the order they came (the identify at 19 has no i).
      expect(props(log.appendedSince(before))).toEqual([20, 21, 22, 23, 24]);
      expect(log.position().count).toBe(25);
      // An older event removed (as a merge undo removes another profile's events): the count no longer adds up.
      sql.exec("DELETE FROM events WHERE seq = (SELECT min(seq) FROM events)");
      sql.exec("UPDATE profile_meta SET event_count = event_count - 1");
      expect(log.appendedSince(before)).toBeNull();
    });
  });

  it("reads the events stored up to a position within a span of time, oldest first", async () => {
    const profileId = newId("prf");
    const messages = history(40);
    const stub = profileStub(env.PROFILE, profileId);
    await stub.ingest({ profileId, workspaceId: "ws_facts", messages: messages.slice(0, 30), identifiers: [] });
    await runInDurableObject(env.PROFILE.getByName(profileId), async (_: ProfileDO, state) => {
      const log = sqlFacts(state.storage.sql).log;
      if (!log) throw new Error("no log");
      const upTo = log.position();
      state.storage.sql.exec(
        "INSERT INTO events (message_id, ts, type, event, body) VALUES ('later', ?, 'track', 'A', ?)",
        T0 + 5 * 60_000,
        JSON.stringify({ properties: { i: 99 } }),
      );
      const span = { from: T0 + 2 * 60_000, to: T0 + 8 * 60_000 };
      // Minutes 2–7 hold messages 4–15; the one stored after the position is not read.
      const oldestFirst = (event: string) =>
        messages
          .slice(0, 30)
          .map((m, seq) => ({ m, seq, ts: Date.parse(m.timestamp as string) }))
          .filter(({ m }) => m.type === "track" && (event === "*" || m.event === event))
          .filter(({ ts }) => ts >= span.from && ts < span.to)
          .sort((x, y) => x.ts - y.ts || x.seq - y.seq)
          .map(({ m }) => (m.properties as { i: number }).i);
      expect(props(log.storedBetween(upTo, { event: "A", ...span }))).toEqual(oldestFirst("A"));
      expect(props(log.storedBetween(upTo, { event: "*", ...span }))).toEqual(oldestFirst("*"));
      expect(oldestFirst("*").length).toBeGreaterThan(5);
    });
  });

  it("notices a removed last event whose place a new one took", async () => {
    const profileId = newId("prf");
    const messages = history(12);
    const stub = profileStub(env.PROFILE, profileId);
    await stub.ingest({ profileId, workspaceId: "ws_facts", messages: messages.slice(0, 11), identifiers: [] });
    await runInDurableObject(env.PROFILE.getByName(profileId), (_: ProfileDO, state) => {
      const sql = state.storage.sql;
      const log = sqlFacts(sql).log;
      if (!log) throw new Error("no log");
      const at11 = log.position();
      // The last row goes and another event is stored: SQLite gives it the same seq, and the count is as before.
      sql.exec("DELETE FROM events WHERE seq = ?", at11.seq);
      sql.exec("INSERT INTO events (message_id, ts, type, event, body) VALUES ('other', ?, 'track', 'A', '{}')", T0);
      expect(log.position()).toMatchObject({ seq: at11.seq, count: at11.count });
      expect(log.appendedSince(at11)).toBeNull();
    });
  });
});
