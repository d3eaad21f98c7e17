/**
 * Which owed folds a sweep reads: merges no sweep asked yet (newest first) and those whose failed ask is due again,
 * neither crowding the other out of the sweep's budget.
 */
import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { orm } from "../client";
import { newId } from "../ids";
import { merges } from "../schema";
import { FOLD_RETRY_MAX_MS, postponeFolds, unfoldedMerges } from "./merge-folds";

const MINUTE = 60_000;
/** The journal is shared with the other files of this runtime: rows of a clock long past, each test's removed after it. */
const journaled: string[] = [];
afterEach(async () => {
  await orm(env.DB)
    .delete(merges)
    .where(inArray(merges.workspaceId, journaled.splice(0)));
});

/** `n` merges journaled at `createdAt` (the newest last), their fold owed; `retryAt` as a failed sweep would set it. */
async function journal(n: number, createdAt: number, retryAt: number | null = null): Promise<string[]> {
  const ws = newId("ws");
  journaled.push(ws);
  const rows = Array.from({ length: n }, (_, i) => ({
    id: newId("mrg"),
    workspaceId: ws,
    fromProfile: newId("prf"),
    intoProfile: newId("prf"),
    rule: "test",
    createdAt: createdAt + i,
    foldRetryAt: retryAt === null ? null : retryAt + i,
  }));
  await orm(env.DB).insert(merges).values(rows);
  return rows.map((r) => r.fromProfile);
}

const retryAtOf = async (fromProfile: string) =>
  (await orm(env.DB).select().from(merges).where(eq(merges.fromProfile, fromProfile)))[0].foldRetryAt;

describe("owed folds", () => {
  it("give retries that are due at most half the budget while merges no sweep asked fill the rest, newest first", async () => {
    const t = 1_000 * MINUTE;
    const fresh = await journal(5, t);
    const failing = await journal(5, t - 100 * MINUTE, t - MINUTE);
    await journal(3, t - 100 * MINUTE, t + 10 * MINUTE); // not due yet

    const read = (await unfoldedMerges(env.DB, t + 5, t, 4)).map((m) => m.fromProfile);
    expect(read).toEqual([fresh[4], fresh[3], failing[0], failing[1]]);
  });

  it("give retries the budget the merges no sweep asked leave, longest due first", async () => {
    const t = 2_000 * MINUTE;
    const fresh = await journal(1, t);
    const failing = await journal(5, t - 100 * MINUTE, t - MINUTE);

    const read = (await unfoldedMerges(env.DB, t, t, 4)).map((m) => m.fromProfile);
    expect(read).toEqual([fresh[0], failing[0], failing[1], failing[2]]);
  });

  it("put a failed ask off until its merge's age has doubled, at most an hour", async () => {
    const t = 3_000 * MINUTE;
    const [young] = await journal(1, t - 6 * MINUTE);
    const [old] = await journal(1, t - 300 * MINUTE);
    await postponeFolds(
      env.DB,
      [
        { fromProfile: young, createdAt: t - 6 * MINUTE },
        { fromProfile: old, createdAt: t - 300 * MINUTE },
      ],
      t,
    );
    expect(await retryAtOf(young)).toBe(t + 6 * MINUTE);
    expect(await retryAtOf(old)).toBe(t + FOLD_RETRY_MAX_MS);

    const due = async (at: number) =>
      (await unfoldedMerges(env.DB, at, at, 100)).map((m) => m.fromProfile).filter((p) => p === young || p === old);
    expect(await due(t + 5 * MINUTE)).toEqual([]);
    expect(await due(t + 6 * MINUTE)).toEqual([young]);
    expect(await due(t + 60 * MINUTE)).toEqual([young, old]);
  });
});
