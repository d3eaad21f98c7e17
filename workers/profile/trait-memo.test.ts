import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ComputedTraitDefinition } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { defineAll } from "../test-support/definitions";
import { freshId, ingestInput, track } from "../test-support/messages";
import { profileOf } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";
import { SAVE_EVERY } from "./trait-memo";

const DAY = 86_400_000;
const SPEND: ComputedTraitDefinition = { op: "sum", event: "Order Completed", property: "total" };
/** A tally (50 distinct totals) beside the sum, so both kinds of progress are stored and carried. */
const KINDS: ComputedTraitDefinition = { op: "unique_count", event: "Order Completed", property: "total" };

/** `n` orders of whole amounts (sums exact in any order), spread over the last 200 days. */
function orders(n: number, from = 0) {
  return Array.from({ length: n }, (_, i) =>
    track("Order Completed", new Date(Date.now() - ((from + i) % 200) * DAY - i * 1000).toISOString(), {
      properties: { total: (from + i) % 50 },
    }),
  );
}
/** The sum of the totals of `orders(n)` of at least `least`. */
function totalOf(n: number, least = 0): number {
  let sum = 0;
  for (let i = 0; i < n; i++) if (i % 50 >= least) sum += i % 50;
  return sum;
}

/** A profile of `n` orders with the workspace's definitions in force; returns its id and the definitions' version. */
async function longProfile(n: number, computed: Record<string, ComputedTraitDefinition> = { spend: SPEND }) {
  const { workspaceId } = await seedWorkspace();
  const definitionsVersion = await defineAll(workspaceId, { computed });
  const id = freshId("prf");
  const all = orders(n);
  for (let i = 0; i < all.length; i += 500) {
    await profileStub(env.PROFILE, id).ingest({
      ...ingestInput(id, all.slice(i, i + 500)),
      workspaceId,
      definitionsVersion,
    });
  }
  return { id, workspaceId, definitionsVersion };
}

/**
 * What an eviction leaves: a new instance on the same storage (fresh memory, as on a wake-up) ingests `messages`.
 * Returns the table rows its SQL read meanwhile (`rowsRead` of every cursor it opened), and the computed values it
 * committed (read from its storage: a profile read through the stub would evaluate again in the live instance).
 */
function ingestAfterEviction(
  id: string,
  input: { workspaceId: string; definitionsVersion: number },
  messages = orders(1, 7),
  before: (state: DurableObjectState) => void = () => {},
): Promise<{ rows: number; computed: Record<string, unknown> }> {
  return runInDurableObject(env.PROFILE.getByName(id), async (_live: ProfileDO, state) => {
    before(state);
    const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
    const sql = new Proxy(state.storage.sql, {
      get(target, key) {
        if (key !== "exec") return Reflect.get(target, key, target);
        return (query: string, ...bindings: SqlStorageValue[]) => {
          const cursor = target.exec(query, ...bindings);
          cursors.push(cursor);
          return cursor;
        };
      },
    });
    // The runtime accepts only its own DurableObjectState: the new instance gets it, then this counting view of its SQL.
    const woken = new ProfileDO(state, env);
    Object.assign(woken, { sql });
    await woken.ingest({ ...ingestInput(id, messages), ...input });
    const rows = cursors.reduce((sum, cursor) => sum + cursor.rowsRead, 0);
    const stored = state.storage.sql.exec<{ key: string; value: string }>("SELECT key, value FROM computed_values");
    return { rows, computed: Object.fromEntries(stored.toArray().map((r) => [r.key, JSON.parse(r.value)])) };
  });
}

describe("carried computed traits across an eviction", () => {
  it("stores the memo of a long log, so a woken object reads only what was stored since", async () => {
    // 20 orders after the stored memo: fewer than the 50 distinct totals, so the tally must come from the memo.
    const n = SAVE_EVERY + 20;
    const profile = await longProfile(n, { spend: SPEND, kinds: KINDS });
    const extra = orders(1, 7);
    const withMemo = await ingestAfterEviction(profile.id, profile, extra);
    expect(withMemo.computed).toEqual({ spend: totalOf(n) + 7, kinds: 50 });
    // The same wake-up without the stored memo reads every order again: what the first figure is measured against.
    const without = await ingestAfterEviction(profile.id, profile, orders(1, 8), (state) =>
      state.storage.kv.delete("trait_memo"),
    );
    expect(without.rows).toBeGreaterThan(n);
    // The memo was stored at the 1,000th order: only the 20 after it are read again (and what any write reads).
    expect(without.rows - withMemo.rows).toBeGreaterThan(0.9 * SAVE_EVERY);
    expect(without.computed).toEqual({ spend: totalOf(n) + 7 + 8, kinds: 50 });
  });

  it("stores what fits when many traits keep large tallies, and the write goes through", async () => {
    // 30 traits, each a tally of 1,000 distinct 60-character values: over 2 MB, more than storage takes in one value.
    const traits = 30;
    const computed = Object.fromEntries(
      Array.from({ length: traits }, (_, t) => [
        `seen_${t}`,
        { op: "unique_count", event: "Page Viewed", property: `p${t}` } satisfies ComputedTraitDefinition,
      ]),
    );
    const { workspaceId } = await seedWorkspace();
    const definitionsVersion = await defineAll(workspaceId, { computed });
    const id = freshId("prf");
    const views = Array.from({ length: SAVE_EVERY }, (_, i) =>
      track("Page Viewed", new Date(Date.now() - i * 1000).toISOString(), {
        properties: Object.fromEntries(
          Array.from({ length: traits }, (_, t) => [`p${t}`, `${t}-${i}-`.padEnd(60, "x")]),
        ),
      }),
    );
    for (let i = 0; i < views.length; i += 250) {
      const input = { ...ingestInput(id, views.slice(i, i + 250)), workspaceId, definitionsVersion };
      expect(await profileStub(env.PROFILE, id).ingest(input)).toMatchObject({ status: "stored" });
    }
    const stored = await runInDurableObject<ProfileDO, string[]>(env.PROFILE.getByName(id), (_o, state) =>
      Object.keys(state.storage.kv.get<{ traits: Record<string, unknown> }>("trait_memo")?.traits ?? {}),
    );
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThan(traits);
    const after = await ingestAfterEviction(id, { workspaceId, definitionsVersion }, []);
    expect(Object.values(after.computed)).toEqual(Array(traits).fill(SAVE_EVERY));
  });

  it("stores nothing for a short log", async () => {
    const profile = await longProfile(50);
    const stored = await runInDurableObject<ProfileDO, unknown>(env.PROFILE.getByName(profile.id), (_o, state) =>
      state.storage.kv.get("trait_memo"),
    );
    expect(stored).toBeUndefined();
    expect((await profileOf(profile.id)).computed).toEqual({ spend: totalOf(50) });
  });

  it("recomputes a trait whose definition changed while the object was away", async () => {
    const profile = await longProfile(SAVE_EVERY + 10);
    const definitionsVersion = await defineAll(profile.workspaceId, {
      computed: { spend: { ...SPEND, where: [{ property: "total", op: "gte", value: 10 }] } },
    });
    const input = { ...profile, definitionsVersion };
    const recomputing = await ingestAfterEviction(profile.id, input, orders(1, 13));
    expect(recomputing.computed).toEqual({ spend: totalOf(SAVE_EVERY + 10, 10) + 13 });
    // What was recomputed is stored at once: the next wake-up carries it.
    const carrying = await ingestAfterEviction(profile.id, input, orders(1, 14));
    expect(recomputing.rows - carrying.rows).toBeGreaterThan(0.9 * SAVE_EVERY);
    expect(carrying.computed).toEqual({ spend: totalOf(SAVE_EVERY + 10, 10) + 13 + 14 });
  });

  it("does not read a memo stored before a sum's partials were scaled (format 2), and recomputes", async () => {
    const n = SAVE_EVERY + 10;
    const profile = await longProfile(n);
    const { rows, computed } = await ingestAfterEviction(profile.id, profile, orders(1, 3), (state) => {
      type Stored = { format: number; traits: Record<string, { progress: { totals: { partials: number[] } } }> };
      const memo = state.storage.kv.get<Stored>("trait_memo") as Stored;
      // What format 2 held: the partials of the values themselves (read as scaled, a sum 2^64 times too large).
      for (const { progress } of Object.values(memo.traits)) {
        progress.totals.partials = progress.totals.partials.map((p) => p * 2 ** 64);
      }
      state.storage.kv.put("trait_memo", { ...memo, format: 2 });
    });
    expect(rows).toBeGreaterThan(n);
    expect(computed).toEqual({ spend: totalOf(n) + 3 });
  });

  it("recomputes when the log lost an event since the memo was stored", async () => {
    const n = SAVE_EVERY + 10;
    const profile = await longProfile(n);
    const { rows, computed } = await ingestAfterEviction(profile.id, profile, orders(1, 3), (state) => {
      // The 50th order (total 49) goes, as a merge undo takes events away.
      state.storage.sql.exec("DELETE FROM events WHERE seq = (SELECT min(seq) FROM events) + 49");
      state.storage.sql.exec("UPDATE profile_meta SET event_count = event_count - 1");
    });
    expect(rows).toBeGreaterThan(n - 1);
    expect(computed).toEqual({ spend: totalOf(n) - 49 + 3 });
  });
});
