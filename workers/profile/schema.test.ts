import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { MemberChange } from "../../d1/queries/members";
import { defineAll } from "../test-support/definitions";
import { freshId, ingestInput, track } from "../test-support/messages";
import { profileOf } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import { store } from "../test-support/store-messages";
import { readOutbox } from "./outbox";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";
import { ensurePart, hasPart, MIGRATIONS, migrate, readVersion, SCHEMA_VERSION } from "./schema";

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
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('schema_version', 'outbox', 'merged_from')",
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

  it("creates a new object's core in one script, and with every part it matches what the migrations add up to", async () => {
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
        const core = statements.length;
        ensurePart(state.storage.sql, "audiences");
        ensurePart(state.storage.sql, "merges");
        return { statements: statements.slice(0, core), layout: layout(state.storage.sql) };
      },
    );
    const replayed = await runInDurableObject<ProfileDO, string[]>(
      env.PROFILE.getByName(freshId("prf")),
      (_i, state) => {
        // From nothing, every part exists by the time a migration names one.
        for (const m of MIGRATIONS) state.storage.sql.exec(typeof m === "string" ? m : m.script);
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
      state.storage.sql.exec(`INSERT INTO traits (key, value, updated_at, received_at) VALUES ('plan', '"old"', 1, 1)`);
    });
    const upgraded = await runInDurableObject<
      ProfileDO,
      { version: number; outbox: number; origin: string | null; trait: unknown }
    >(stub, (_i, state) => {
      migrate(state.storage);
      const sql = state.storage.sql;
      return {
        version: readVersion(sql),
        outbox: sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n,
        origin: sql.exec<{ origin: string | null }>("SELECT origin FROM events WHERE message_id = 'm-old'").one()
          .origin,
        trait: sql.exec("SELECT value, message_id FROM traits").one(),
      };
    });
    expect(upgraded).toEqual({
      version: SCHEMA_VERSION,
      outbox: 0,
      origin: null,
      trait: { value: '"old"', message_id: null },
    });
  });

  it("knows, after migrating an object created with the core only, that it still lacks the parts", async () => {
    const id = freshId("prf");
    // A new visitor's object of the code two versions back: the core as created then (the last two migrations touch a
    // part only), no part. Their migrations are skipped: there is no outbox to add a column to, no merge table.
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, [track("Viewed", "2026-01-01T00:00:00.000Z")]));
    const parts = await runInDurableObject<ProfileDO, { audiences: boolean; merges: boolean; version: number }>(
      env.PROFILE.getByName(id),
      (_i, state) => {
        const sql = state.storage.sql;
        sql.exec("UPDATE schema_version SET version = ?", SCHEMA_VERSION - 2);
        migrate(state.storage);
        return { audiences: hasPart(sql, "audiences"), merges: hasPart(sql, "merges"), version: readVersion(sql) };
      },
    );
    expect(MIGRATIONS.slice(-2)).toMatchObject([{ part: "audiences" }, { part: "merges" }]);
    expect(parts).toEqual({ audiences: false, merges: false, version: SCHEMA_VERSION });
  });

  it("keeps the outbox rows of an object with audiences, queued before they named their definition", async () => {
    const id = freshId("prf");
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, [track("Viewed", "2026-01-01T00:00:00.000Z")]));
    const owner = { workspaceId: "ws_test", profileId: id };
    const members = await runInDurableObject<ProfileDO, MemberChange[] | undefined>(
      env.PROFILE.getByName(id),
      (_i, state) => {
        const sql = state.storage.sql;
        // The audience part as the code two versions back created it, with one change waiting.
        ensurePart(sql, "audiences");
        sql.exec("ALTER TABLE outbox DROP COLUMN definition_created_at");
        sql.exec("INSERT INTO outbox (seq, kind, key, member, at) VALUES (1, 'audience', 'vip', 1, 1000)");
        sql.exec("UPDATE schema_version SET version = ?", SCHEMA_VERSION - 2);
        migrate(state.storage);
        return readOutbox(sql, owner)?.members;
      },
    );
    // Named after no definition: D1 takes it for whichever holds the key.
    expect(members).toEqual([{ kind: "audience", key: "vip", member: true, at: 1000, seq: 1 }]);
  });

  it("gives a new visitor's object only the core tables; the first definition and the first merge add their parts", async () => {
    const tablesOf = (id: string) =>
      runInDurableObject<ProfileDO, string[]>(env.PROFILE.getByName(id), (_i, state) =>
        state.storage.sql
          .exec<{ name: string }>(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%' ORDER BY name",
          )
          .toArray()
          .map((r) => r.name),
      );
    const core = [
      "events",
      "events_by_name_ts",
      "events_by_ts",
      "identifiers",
      "profile_meta",
      "schema_version",
      "traits",
    ];
    const { workspaceId } = await seedWorkspace();
    const [id] = await store(workspaceId, [track("Viewed", "2026-01-01T00:00:00.000Z", { anonymousId: "a-core" })]);
    const profileId = id as string;
    expect(await tablesOf(profileId)).toEqual(core);
    const view = await profileOf(profileId);
    expect({ audiences: view.audiences, computed: view.computed, merged_from: view.merged_from }).toEqual({
      audiences: [],
      computed: {},
      merged_from: [],
    });

    await defineAll(workspaceId, { audiences: { viewers: { event: "Viewed" } } });
    await store(workspaceId, [track("Viewed", "2026-01-02T00:00:00.000Z", { anonymousId: "a-core" })]);
    expect(await tablesOf(profileId)).toEqual(
      [...core, "computed_values", "definitions_cache", "memberships", "outbox"].sort(),
    );
    expect((await profileOf(profileId)).audiences.map((a) => a.key)).toEqual(["viewers"]);

    const loser = freshId("prf");
    await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [track("L", "2026-01-03T00:00:00.000Z")]));
    await profileStub(env.PROFILE, loser).mergeInto(profileId);
    expect(await tablesOf(profileId)).toEqual(
      [
        ...core,
        "computed_values",
        "definitions_cache",
        "memberships",
        "outbox",
        "events_by_origin",
        "folded_duplicates",
        "merged_from",
      ].sort(),
    );
    expect((await profileOf(profileId)).merged_from).toEqual([loser]);
  });

  it("forgets a part created in a transaction of the object that rolled back", async () => {
    const id = freshId("prf");
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, [track("A", "2026-01-01T00:00:00.000Z")]));
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(id), (instance, state) => {
      const sql = state.storage.sql;
      // The object's own transaction helper: every write of the ProfileDO runs through it.
      const transaction = (instance as unknown as { transaction(change: () => void): void }).transaction.bind(instance);
      expect(hasPart(sql, "audiences")).toBe(false);
      expect(() =>
        transaction(() => {
          ensurePart(sql, "audiences");
          expect(hasPart(sql, "audiences")).toBe(true);
          throw new Error("rolled back");
        }),
      ).toThrow("rolled back");
      expect(hasPart(sql, "audiences")).toBe(false);
    });
    // Reads of the part answer "nothing" rather than failing on a table that is not there.
    const outcome = await profileStub(env.PROFILE, id).preview({
      workspaceId: "ws_preview",
      definitionsVersion: 0,
      audience: { all: [{ event: "A" }] },
    });
    expect(outcome).toEqual({ status: "ok", member: true, value: null });
  });
});
