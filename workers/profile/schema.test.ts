import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, ingestInput, track } from "../test-support/messages";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";
import { migrate, readVersion, SCHEMA_VERSION } from "./schema";

describe("ProfileDO schema", () => {
  it("creates no tables when an unknown profile is only read", async () => {
    const id = freshId("prf");
    expect(await profileStub(env.PROFILE, id).getProfile()).toEqual({ status: "missing" });
    const tables = await runInDurableObject<ProfileDO, string[]>(env.PROFILE.getByName(id), (_i, state) =>
      state.storage.sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'",
        )
        .toArray()
        .map((r) => r.name),
    );
    expect(tables).toEqual([]);
  });

  it("migrates on the first write and records the version in a table", async () => {
    const id = freshId("prf");
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, []));
    const rows = await runInDurableObject<ProfileDO, Array<{ version: number }>>(
      env.PROFILE.getByName(id),
      (_i, state) => state.storage.sql.exec<{ version: number }>("SELECT version FROM schema_version").toArray(),
    );
    expect(rows).toEqual([{ version: SCHEMA_VERSION }]);
  });

  it("pays one version read, and no write, when the object is already current", async () => {
    const id = freshId("prf");
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, [track("A", "2026-01-01T00:00:00.000Z")]));
    const statements = await runInDurableObject<ProfileDO, string[]>(env.PROFILE.getByName(id), (_i, state) => {
      const seen: string[] = [];
      const real = state.storage.sql;
      const counting = {
        sql: {
          exec: (query: string, ...args: SqlStorageValue[]) => {
            seen.push(query);
            return real.exec(query, ...args);
          },
        },
        transactionSync: <T>(fn: () => T) => {
          seen.push("transaction");
          return state.storage.transactionSync(fn);
        },
      } as unknown as DurableObjectStorage;
      migrate(counting);
      return seen;
    });
    expect(statements).toEqual(["SELECT version FROM schema_version"]);
  });

  it("reports version 0 for an empty database and refuses one newer than the code", async () => {
    const id = freshId("prf");
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, []));
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(id), (_i, state) => {
      const sql = state.storage.sql;
      sql.exec("UPDATE schema_version SET version = ?", SCHEMA_VERSION + 1);
      expect(() => migrate(state.storage)).toThrow(/newer than this code/);
      sql.exec("DROP TABLE schema_version");
      expect(readVersion(sql)).toBe(0);
    });
  });
});
