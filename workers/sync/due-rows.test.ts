/**
 * What one drain takes from a destination's queue (see `due-rows.ts`): whole vendor batches per audience, everything
 * when little waits, nothing not yet due, and only index seeks however long the backlog.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId } from "../test-support/messages";
import type { DestinationDO } from "./destination-do";
import { dueRows } from "./due-rows";

/** Runs `check` on the SQL of a fresh destination object holding `rows` as (profile, audience, not_before). */
async function withPending<T>(
  rows: Array<[string, string, number]>,
  check: (sql: SqlStorage) => T | Promise<T>,
): Promise<T> {
  const stub = env.DESTINATION.getByName(freshId("dst"));
  return runInDurableObject<DestinationDO, T>(stub, (_o, state) => {
    const sql = state.storage.sql;
    for (const [profile, audience, notBefore] of rows) {
      sql.exec(
        "INSERT INTO pending (profile_id, audience, seq, op, attempts, not_before) VALUES (?, ?, 1, '{}', 0, ?)",
        profile,
        audience,
        notBefore,
      );
    }
    return check(sql);
  });
}

const count = (rows: Array<{ audience: string }>) => {
  const by: Record<string, number> = {};
  for (const r of rows) by[r.audience] = (by[r.audience] ?? 0) + 1;
  return by;
};

const NOW = 1_800_000_000_000;

describe("dueRows", () => {
  it("gives each audience with due work whole batches, at least one each", async () => {
    const backlog = ["a1", "a2", "a3", "a4", "a5"].flatMap((a) =>
      Array.from({ length: 400 }, (_, i): [string, string, number] => [`p${i}`, a, 0]),
    );
    const taken = await withPending(backlog, (sql) => count(dueRows(sql, NOW, { batch: 300, budget: 1000 })));
    expect(taken).toEqual({ a1: 300, a2: 300, a3: 300, a4: 300, a5: 300 });
    const small = await withPending(backlog, (sql) => count(dueRows(sql, NOW, { batch: 100, budget: 1000 })));
    expect(small).toEqual({ a1: 200, a2: 200, a3: 200, a4: 200, a5: 200 });
  });

  it("takes everything when less than a batch waits, and nothing that is not due yet", async () => {
    const taken = await withPending(
      [
        ["p1", "a1", 0],
        ["p2", "a1", NOW + 1],
        ["p1", "", 0],
        ["p3", "a2", NOW + 1],
      ],
      (sql) => dueRows(sql, NOW, { batch: 300, budget: 1000 }).map((r) => `${r.audience}:${r.profile_id}`),
    );
    expect(taken.sort()).toEqual([":p1", "a1:p1"]);
  });

  it("only seeks the queue's index, however long the backlog", async () => {
    const steps = await withPending([["p1", "a1", 0]], (sql) => {
      const statements: Array<{ query: string; bindings: unknown[] }> = [];
      const recording = {
        exec: (query: string, ...bindings: unknown[]) => {
          statements.push({ query, bindings });
          return sql.exec(query, ...bindings);
        },
      } as unknown as SqlStorage;
      dueRows(recording, NOW, { batch: 300, budget: 1000 });
      return statements.flatMap(({ query, bindings }) =>
        sql
          .exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`, ...bindings)
          .toArray()
          .map((r) => r.detail),
      );
    });
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.filter((s) => /^SCAN|AUTOMATIC/.test(s))).toEqual([]);
  });
});
