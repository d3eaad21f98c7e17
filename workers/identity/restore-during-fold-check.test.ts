/**
 * A fold asked of a restored profile checks the graph before merging it away again; while D1 answers, another undo
 * of the same merge can restore the object anew and take the workspace's repair lock. The answer D1 gave is then
 * about the restore before: the object must decide again, not merge away a profile that undo is about to split out.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { claimGraphRepairLock } from "../../d1/queries/graph-repair-locks";
import type { ProfileDO } from "../profile/profile-do";
import { markRestored } from "../profile/profile-meta";
import { profileStub } from "../profile/profile-stub";
import { lostAfterRestore, visitorMergedIntoSam } from "../test-support/merged-visitor";
import { undoMerge } from "./merge-undo";

/** `db`, running `meanwhile` once its first statement has its answer, before the caller hears it. */
function afterFirstAnswer(db: D1Database, meanwhile: () => Promise<void>): D1Database {
  let first = true;
  const statement = (stmt: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(stmt, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (typeof value !== "function") return value;
        if (key === "bind") return (...args: unknown[]) => statement(value.apply(target, args));
        return async (...args: unknown[]) => {
          const answer = await value.apply(target, args);
          if (first) {
            first = false;
            await meanwhile();
          }
          return answer;
        };
      },
    });
  return new Proxy(db, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (key === "prepare") return (query: string) => statement(value.call(target, query));
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("a fold of a restored profile while another undo restores it again", () => {
  it("leaves it live: the fold decides on the new restore, which the graph says an undo is splitting out", async () => {
    const { ws, sam, visitor, merge } = await visitorMergedIntoSam("restore-during-fold-check");
    // An undo that stopped after the restore: the object is live, the graph still has it merged into Sam.
    const stopped = await undoMerge({ ...env, PROFILE: lostAfterRestore(env.PROFILE) }, ws.workspaceId, merge.id).then(
      () => "undone",
      (err: Error) => err.message,
    );
    expect(stopped).toBe("the isolate went away");

    const outcome = await runInDurableObject<ProfileDO, string>(
      env.PROFILE.getByName(visitor),
      async (instance, state) => {
        const meta = state.storage.sql
          .exec<{ restored_at: number; created_at: number }>("SELECT restored_at, created_at FROM profile_meta")
          .one();
        // Another undo of the merge, meanwhile: it holds the repair lock and has restored the object once more.
        const anotherUndo = async () => {
          expect(await claimGraphRepairLock(env.DB, ws.workspaceId, merge.id, Date.now(), 0)).toBe(true);
          const self = { profileId: visitor, workspaceId: ws.workspaceId, createdAt: meta.created_at };
          markRestored(state.storage.sql, self, meta.restored_at + 1000);
        };
        const object = instance as unknown as { env: Env };
        object.env = { ...object.env, DB: afterFirstAnswer(object.env.DB, anotherUndo) };
        return instance.mergeInto(sam).then(
          () => "merged",
          (err: Error) => err.message,
        );
      },
    );
    expect(outcome).toBe(`profile ${visitor} is being restored; fold it later`);
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toMatchObject({ status: "ok" });
  });
});
