import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, ingestInput, track } from "../test-support/messages";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";
import { MIGRATIONS, migrate, readVersion, SCHEMA_VERSION } from "./schema";

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

  it("pays two catalogue-sized reads, and no write, when the object is already current", async () => {
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
    expect(statements).toEqual([
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
      "SELECT version FROM schema_version",
    ]);
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

  it("creates a new object's schema in one script that matches what every migration adds up to", async () => {
    const layout = (sql: SqlStorage) =>
      sql
        .exec<{ entry: string }>(
          `SELECT m.type || ' ' || m.name || ': ' || coalesce(
             (SELECT group_concat(c.name || ' ' || c.type || ' ' || c."notnull" || ' ' || coalesce(c.dflt_value, '-')
               || ' ' || c.pk, ', ') FROM pragma_table_info(m.name) AS c),
             replace(m.sql, ' ', '')) AS entry
           FROM sqlite_master AS m WHERE m.name NOT LIKE '\\_%' ESCAPE '\\' AND m.name NOT LIKE 'sqlite_%'
           ORDER BY m.type, m.name`,
        )
        .toArray()
        .map((r) => r.entry);
    const created = await runInDurableObject<ProfileDO, { statements: string[]; layout: string[] }>(
      env.PROFILE.getByName(freshId("prf")),
      (_i, state) => {
        const statements: string[] = [];
        const counting = {
          sql: {
            exec: (query: string, ...args: SqlStorageValue[]) => {
              statements.push(query);
              return state.storage.sql.exec(query, ...args);
            },
          },
          transactionSync: <T>(fn: () => T) => state.storage.transactionSync(fn),
        } as unknown as DurableObjectStorage;
        migrate(counting, 0);
        return { statements, layout: layout(state.storage.sql) };
      },
    );
    const replayed = await runInDurableObject<ProfileDO, string[]>(
      env.PROFILE.getByName(freshId("prf")),
      (_i, state) => {
        for (const script of MIGRATIONS) state.storage.sql.exec(script);
        return layout(state.storage.sql);
      },
    );
    expect(created.statements).toHaveLength(1);
    expect(created.layout).toEqual(replayed);
    expect(created.layout.length).toBeGreaterThan(10);
  });

  it("upgrades an object created at an older version, keeping what it stored", async () => {
    const id = freshId("prf");
    const stub = env.PROFILE.getByName(id);
    // Written by the code of schema version 1: its tables, one stored event, no audience tables yet.
    await runInDurableObject<ProfileDO, void>(stub, (_i, state) => {
      state.storage.sql.exec(MIGRATIONS[0] as string);
      state.storage.sql.exec("UPDATE schema_version SET version = 1");
      state.storage.sql.exec(
        `INSERT INTO profile_meta (singleton, status, profile_id, workspace_id, created_at, updated_at, event_count)
         VALUES (1, 'active', ?1, 'ws_old', 1, 1, 1)`,
        id,
      );
      state.storage.sql.exec(
        "INSERT INTO events (message_id, ts, type, event, body) VALUES ('m-old', 1, 'track', 'Old', ?)",
        JSON.stringify(track("Old", "2026-01-01T00:00:00.000Z")),
      );
    });
    const upgraded = await runInDurableObject<ProfileDO, { version: number; outbox: number; origin: string | null }>(
      stub,
      (_i, state) => {
        migrate(state.storage);
        const sql = state.storage.sql;
        return {
          version: readVersion(sql),
          outbox: sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n,
          origin: sql.exec<{ origin: string | null }>("SELECT origin FROM events WHERE message_id = 'm-old'").one()
            .origin,
        };
      },
    );
    expect(upgraded).toEqual({ version: SCHEMA_VERSION, outbox: 0, origin: null });
  });
});
