/**
 * The ProfileDO's own SQLite schema, migrated inside each object the first time it wakes on new code.
 * Each object migrates lazily, so across millions of profiles this is a rolling migration: code must
 * tolerate an object that is one version behind until it is touched. Append migrations, never edit them.
 *
 * A brand-new object skips the history: it creates {@link CORE_SCHEMA} in one script, and each of the {@link PARTS}
 * (audiences, merges) in the write that first needs it. Most profiles are created, not migrated (every new visitor is
 * a new object), and replaying the migrations cost each of them a dozen `ALTER TABLE`s, each rewriting and
 * re-parsing the schema. When you append a migration, change CORE_SCHEMA or the part it touches to match:
 * `schema.test.ts` checks that the core with every part and the migrations end with the same tables, columns and
 * indexes. A migration may touch a part's tables only where the part exists: a new object may lack it, so such a
 * migration names its part ({@link Migration}).
 */

/**
 * One migration: a script for every object, or one for the objects that have `part` (see {@link PARTS}). An object
 * without the part gets the part's tables as they are now when it first needs them, so it has nothing to migrate.
 */
export type Migration = string | { part: SchemaPart; script: string };

/** Migration N (0-based) takes an object from schema version N to N+1. */
export const MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE schema_version (version INTEGER NOT NULL);
  INSERT INTO schema_version (version) VALUES (0);

  -- One row: who this object is and where it stands (active | redirect | deleted).
  -- A deleted object keeps only status and updated_at, so the marker holds no personal data.
  CREATE TABLE profile_meta (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
    status       TEXT NOT NULL,
    profile_id   TEXT,
    workspace_id TEXT,
    created_at   INTEGER,
    updated_at   INTEGER NOT NULL,
    first_seen   INTEGER,
    last_seen    INTEGER,
    event_count  INTEGER NOT NULL DEFAULT 0,
    redirect_to  TEXT,
    fold_pending INTEGER NOT NULL DEFAULT 0
  );

  -- The timeline. seq is the rowid: a stable tiebreak for events with the same timestamp, and every
  -- index on ts carries it for free, so "newest first" pages walk one index.
  CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    ts         INTEGER NOT NULL,
    type       TEXT NOT NULL,
    event      TEXT,
    body       TEXT NOT NULL
  );
  CREATE INDEX events_by_ts ON events (ts);
  -- Filtered timelines and, later, computed traits and audience conditions ("Order Completed within 30d").
  CREATE INDEX events_by_name_ts ON events (event, ts) WHERE event IS NOT NULL;

  -- Last write by event time wins per top-level key; received_at breaks ties.
  CREATE TABLE traits (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    received_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE identifiers (
    type       TEXT NOT NULL,
    value      TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (type, value)
  ) WITHOUT ROWID;

  -- Profiles folded into this one, transitively, in the order they arrived.
  CREATE TABLE merged_from (
    seq        INTEGER PRIMARY KEY,
    profile_id TEXT NOT NULL UNIQUE
  );
  `,
  `
  -- Audiences and computed traits (DESIGN §6). The workspace's definitions as this object last loaded them, so
  -- evaluation (on an event, an alarm, a merge) needs no D1 read until the workspace's version moves on.
  CREATE TABLE definitions_cache (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version   INTEGER NOT NULL,
    body      TEXT NOT NULL
  );

  -- The audiences this profile is in now, since when (epoch ms).
  CREATE TABLE memberships (
    audience TEXT PRIMARY KEY,
    since    INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Every computed trait's current value (JSON); since = when it last went from "no value" to a value.
  CREATE TABLE computed_values (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    since INTEGER
  ) WITHOUT ROWID;

  -- Membership and computed-value changes committed here and not yet written to D1 and the sync queue.
  -- seq is the profile's own change sequence (profile_meta.change_seq), monotonic across its audiences.
  CREATE TABLE outbox (
    seq    INTEGER PRIMARY KEY,
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    member INTEGER NOT NULL,
    at     INTEGER NOT NULL
  );

  ALTER TABLE profile_meta ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
  -- The next instant a membership or windowed value can change with no new event; the alarm is set for it.
  ALTER TABLE profile_meta ADD COLUMN next_eval_at INTEGER;
  `,
  `
  -- Merge undo (DESIGN §12): every event and identifier records the profile it arrived on, so a merge can be split
  -- out again. NULL: this profile itself (and everything stored before origins were kept, which stays here).
  ALTER TABLE events ADD COLUMN origin TEXT;
  CREATE INDEX events_by_origin ON events (origin, seq) WHERE origin IS NOT NULL;
  ALTER TABLE identifiers ADD COLUMN origin TEXT;
  -- Set when an undo made this merged-away profile live again: a late fold request for the undone merge is
  -- then checked against the identity graph before it is obeyed.
  ALTER TABLE profile_meta ADD COLUMN restored_at INTEGER;
  `,
  `
  -- On a merge undo's survivor: the identifiers the undo moved to the restored profile (a JSON array), which stale
  -- caches elsewhere may still route here. NULL: none.
  ALTER TABLE profile_meta ADD COLUMN departed TEXT;
  `,
  `
  -- The message that set each trait value: the tie-break between values with the same event and arrival time, which
  -- a merge can compare across profiles (arrival order it cannot). NULL: set before this column, sorts first.
  ALTER TABLE traits ADD COLUMN message_id TEXT;
  `,
  {
    part: "audiences",
    script: `
  -- The created_at of the definition each change was evaluated under (see MemberChange.definitionCreatedAt): a key
  -- deleted and defined again names another definition by the time a late row is delivered, and only the row knows
  -- which one it meant. NULL: queued before this column; D1 applies it to whichever definition holds the key.
  ALTER TABLE outbox ADD COLUMN definition_created_at INTEGER;
  `,
  },
  {
    part: "merges",
    script: `
  -- On a survivor: a message a folded profile held that this one had already (one message delivered to both), kept
  -- once, in this profile's copy; origin is the profile that held it too, so a merge undo gives that one a copy back.
  CREATE TABLE folded_duplicates (
    message_id TEXT NOT NULL,
    origin     TEXT NOT NULL,
    PRIMARY KEY (message_id, origin)
  ) WITHOUT ROWID;
  `,
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * What a brand-new object creates: the tables its first write needs. The {@link PARTS} come later, when the profile
 * first uses them; a first-time visitor who never enters an audience or a merge never pays for them.
 */
const CORE_SCHEMA = `
  CREATE TABLE schema_version (version INTEGER NOT NULL);
  INSERT INTO schema_version (version) VALUES (${SCHEMA_VERSION});

  CREATE TABLE profile_meta (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
    status       TEXT NOT NULL,
    profile_id   TEXT,
    workspace_id TEXT,
    created_at   INTEGER,
    updated_at   INTEGER NOT NULL,
    first_seen   INTEGER,
    last_seen    INTEGER,
    event_count  INTEGER NOT NULL DEFAULT 0,
    redirect_to  TEXT,
    fold_pending INTEGER NOT NULL DEFAULT 0,
    change_seq   INTEGER NOT NULL DEFAULT 0,
    next_eval_at INTEGER,
    restored_at  INTEGER,
    departed     TEXT
  );

  CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    ts         INTEGER NOT NULL,
    type       TEXT NOT NULL,
    event      TEXT,
    body       TEXT NOT NULL,
    origin     TEXT
  );
  CREATE INDEX events_by_ts ON events (ts);
  CREATE INDEX events_by_name_ts ON events (event, ts) WHERE event IS NOT NULL;

  CREATE TABLE traits (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    message_id  TEXT
  ) WITHOUT ROWID;

  CREATE TABLE identifiers (
    type       TEXT NOT NULL,
    value      TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    origin     TEXT,
    PRIMARY KEY (type, value)
  ) WITHOUT ROWID;
`;

/** Tables a profile creates when it first needs them, in the transaction of the write that does. */
export type SchemaPart = "audiences" | "merges";

/**
 * Each part's tables, and the table whose presence says the part exists. Creating a table is most of what a new
 * SQLite database costs (a catalogue row, a root page, a re-parse): the whole schema at once was ~1 ms of a new
 * visitor's object call in `bench/ingest/profile.mjs`, and its seven btrees a third of what a live object holds.
 */
const PARTS: Record<SchemaPart, { marker: string; ddl: string }> = {
  // Audiences and computed traits (DESIGN §6): created by the first evaluation with a definition.
  audiences: {
    marker: "outbox",
    ddl: `
  CREATE TABLE IF NOT EXISTS definitions_cache (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version   INTEGER NOT NULL,
    body      TEXT NOT NULL
  );

  CREATE TABLE IF NOT EXISTS memberships (
    audience TEXT PRIMARY KEY,
    since    INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE IF NOT EXISTS computed_values (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    since INTEGER
  ) WITHOUT ROWID;

  CREATE TABLE IF NOT EXISTS outbox (
    seq    INTEGER PRIMARY KEY,
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    member INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    definition_created_at INTEGER
  );
`,
  },
  // Merges and their undo (DESIGN §4, §12): created when another profile's state first arrives here.
  merges: {
    marker: "merged_from",
    ddl: `
  CREATE TABLE IF NOT EXISTS merged_from (
    seq        INTEGER PRIMARY KEY,
    profile_id TEXT NOT NULL UNIQUE
  );
  CREATE INDEX IF NOT EXISTS events_by_origin ON events (origin, seq) WHERE origin IS NOT NULL;
  CREATE TABLE IF NOT EXISTS folded_duplicates (
    message_id TEXT NOT NULL,
    origin     TEXT NOT NULL,
    PRIMARY KEY (message_id, origin)
  ) WITHOUT ROWID;
`,
  },
};

const ALL_PARTS = Object.keys(PARTS) as SchemaPart[];
const CATALOGUE_QUERY = `SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('schema_version', ${ALL_PARTS.map(
  (part) => `'${PARTS[part].marker}'`,
).join(", ")})`;

/**
 * The parts each live object has, keyed by its `SqlStorage` (one per live object), learnt from the catalogue with
 * the version. An entry is dropped when a transaction that may have created a part rolls back ({@link forgetParts}).
 */
const partsPresent = new WeakMap<SqlStorage, Set<SchemaPart>>();

/** Does this object have `part`'s tables? Readers of a part answer "nothing stored" when it does not. */
export function hasPart(sql: SqlStorage, part: SchemaPart): boolean {
  return (partsPresent.get(sql) ?? readCatalogue(sql).parts).has(part);
}

/** Creates `part`'s tables unless the object has them; call it inside the transaction of the write that needs them. */
export function ensurePart(sql: SqlStorage, part: SchemaPart): void {
  if (hasPart(sql, part)) return;
  sql.exec(PARTS[part].ddl);
  partsPresent.get(sql)?.add(part);
}

/** After a rollback (or an erase): what the object has is asked of the catalogue again. */
export function forgetParts(sql: SqlStorage): void {
  partsPresent.delete(sql);
}

/**
 * Brings the object's SQLite up to {@link SCHEMA_VERSION}. An object that is already current pays the version read
 * of {@link readVersion} (none when the caller passes the `current` version it just read); an object without tables
 * creates the core schema in one script (its parts come with their first use, see {@link ensurePart}); otherwise the
 * pending migrations run in one transaction. `PRAGMA user_version` is not available in Durable Objects, so the
 * version lives in a table.
 */
export function migrate(storage: DurableObjectStorage, current = readVersion(storage.sql)): void {
  if (current === SCHEMA_VERSION) return;
  if (current > SCHEMA_VERSION) {
    throw new Error(`profile schema ${current} is newer than this code (${SCHEMA_VERSION})`);
  }
  const sql = storage.sql;
  storage.transactionSync(() => {
    if (current === 0) {
      sql.exec(CORE_SCHEMA);
      partsPresent.set(sql, new Set());
      return;
    }
    for (let v = current; v < SCHEMA_VERSION; v++) runMigration(sql, MIGRATIONS[v] as Migration);
    sql.exec("UPDATE schema_version SET version = ?", SCHEMA_VERSION);
    // Which parts it has is asked of the catalogue: an object migrated from version 0 has every part, but one created
    // with the core only (a new visitor's, since parts exist) has only those its writes added, migrations or not.
    partsPresent.delete(sql);
  });
}

function runMigration(sql: SqlStorage, migration: Migration): void {
  if (typeof migration === "string") {
    sql.exec(migration);
    return;
  }
  // Asked of the catalogue, not of what was remembered before: an earlier migration of this run may have created it.
  if (readCatalogue(sql).parts.has(migration.part)) sql.exec(migration.script);
}

/** The stored schema version, 0 for an object that has never been migrated. */
export function readVersion(sql: SqlStorage): number {
  if (!readCatalogue(sql).hasTables) return 0;
  return sql.exec<{ version: number }>("SELECT version FROM schema_version").one().version;
}

/**
 * One catalogue read: whether the object has tables at all, and which parts (also remembered). A brand-new (or
 * just erased) object has none: the common cold case. Asked of the catalogue rather than caught as "no such table",
 * whose thrown error cost every new profile 0.4 ms (bench/README, "Where the CPU goes").
 */
function readCatalogue(sql: SqlStorage): { hasTables: boolean; parts: Set<SchemaPart> } {
  const names = new Set(
    sql
      .exec<{ name: string }>(CATALOGUE_QUERY)
      .toArray()
      .map((r) => r.name),
  );
  const parts = new Set(ALL_PARTS.filter((part) => names.has(PARTS[part].marker)));
  partsPresent.set(sql, parts);
  return { hasTables: names.has("schema_version"), parts };
}
