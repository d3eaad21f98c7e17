/**
 * This profile's audiences and computed traits (DESIGN §6): evaluated in the same commit as whatever changed the
 * profile (an event, a merge, a new definition, a window boundary), diffed against what is stored, and every
 * change queued in the object's outbox under the profile's own monotonic `seq`, to be written to D1
 * (`audience_members`) and sent to the sync queue after the commit (see `outbox.ts`).
 *
 * Evaluation recomputes from the event log rather than keeping running counters: a profile evaluated twice (a
 * backfill page and a live event at once, a page delivered again) therefore counts every event exactly once, and
 * a changed definition needs no migration of counters. The log's `(event, ts)` index keeps each read bounded. The one
 * exception: an object carries computed traits forward from its last evaluation, taking in the events appended
 * since and taking out those that left the window (`carryTrait`; kept across evictions for long logs,
 * `trait-memo.ts`): a cache checked against the log, and rebuilt from it whenever it cannot be carried.
 */
import type { ComputedTraitOp } from "@tessera/protocol";
import type { DefinitionKind } from "../../d1/queries/definitions";
import { definitionId, emptySet, type VersionedDefinitions } from "../audiences/definitions-cache";
import { type DefinitionSet, type EvaluationMemo, evaluateAll } from "../audiences/evaluate";
import { ensurePart, hasPart } from "./schema";
import { sqlFacts } from "./sql-facts";

/**
 * Does a computed value of a trait computed by `op` count as "has a value" (`computed_trait_members`, a trait's `size`
 * and preview)? Not null, not an empty list, and for `count` and `sum` not 0: an empty count or sum is 0 by DESIGN §6,
 * and counting those would make every profile of the workspace a holder of every count trait (and cost each new
 * profile a D1 write per such trait). Every other op's "nothing" is null, so its 0 is a value (a last order of 0
 * items, a minimum balance of 0). `op` undefined (the definition is gone): 0 counts as nothing, as for a count.
 */
export function holdsValue(value: unknown, op: ComputedTraitOp | undefined): boolean {
  if (value === null || value === undefined) return false;
  if (value === 0) return op !== undefined && op !== "count" && op !== "sum";
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

/** The definitions this object evaluates with, and their workspace version (0: none loaded yet). */
export function readCachedDefinitions(sql: SqlStorage): VersionedDefinitions {
  if (!hasPart(sql, "audiences")) return { version: 0, set: emptySet() };
  const row = sql
    .exec<{ version: number; body: string }>("SELECT version, body FROM definitions_cache WHERE singleton = 1")
    .toArray()[0];
  if (!row) return { version: 0, set: emptySet() };
  // The set, and beside it since 2026-12-05 when each definition was created.
  const { created, ...set } = JSON.parse(row.body) as DefinitionSet & { created?: Record<string, number> };
  return created ? { version: row.version, set, created } : { version: row.version, set };
}

export function writeCachedDefinitions(sql: SqlStorage, defs: VersionedDefinitions): void {
  ensurePart(sql, "audiences");
  sql.exec(
    `INSERT INTO definitions_cache (singleton, version, body) VALUES (1, ?1, ?2)
     ON CONFLICT (singleton) DO UPDATE SET version = ?1, body = ?2`,
    defs.version,
    JSON.stringify(defs.created ? { ...defs.set, created: defs.created } : defs.set),
  );
}

/**
 * Before adopting `fresh` definitions: what the profile held under a definition of `held` that `fresh` no longer has
 * ends here — an exit queued, named after that definition, the stored membership or value dropped. A key deleted
 * since, or deleted and created again (the deletion's rebuild had not reached this profile): the new definition is
 * another one, so the evaluation that follows enters it afresh, with its own `since`, and its member row is written
 * again (the deletion took the old one with it). In the caller's transaction.
 */
export function leaveReplaced(sql: SqlStorage, held: VersionedDefinitions, fresh: VersionedDefinitions, now: number) {
  const { created } = held;
  if (!created || !fresh.created || !hasPart(sql, "audiences")) return;
  leave(sql, now, held, (kind, key) => {
    const before = created[definitionId(kind, key)];
    return before !== undefined && before !== fresh.created?.[definitionId(kind, key)];
  });
}

/**
 * Ends what the profile holds under the definitions `which` picks of `held` (those the profile held them under): their
 * memberships and computed values are dropped, and an exit is queued for each it was in or had a value of, named
 * after its definition. In the caller's transaction; answers the exits queued.
 */
function leave(
  sql: SqlStorage,
  now: number,
  held: Pick<VersionedDefinitions, "set" | "created">,
  which: (kind: DefinitionKind, key: string) => boolean,
): number {
  const { created } = held;
  const changes: QueuedChange[] = [];
  const exit = (kind: DefinitionKind, key: string) => changes.push(queued(created, kind, key, false));
  const memberships = sql.exec<{ audience: string }>("SELECT audience FROM memberships ORDER BY audience").toArray();
  for (const { audience } of memberships) {
    if (!which("audience", audience)) continue;
    sql.exec("DELETE FROM memberships WHERE audience = ?", audience);
    exit("audience", audience);
  }
  const values = sql
    .exec<{ key: string; value: string }>("SELECT key, value FROM computed_values ORDER BY key")
    .toArray();
  for (const row of values) {
    if (!which("computed_trait", row.key)) continue;
    sql.exec("DELETE FROM computed_values WHERE key = ?", row.key);
    if (holdsValue(JSON.parse(row.value), held.set.computed[row.key]?.op)) exit("computed_trait", row.key);
  }
  enqueueChanges(sql, changes, now);
  return changes.length;
}

/** When each definition was created, by `definitionId` (see {@link VersionedDefinitions.created}). */
type DefinitionsCreated = VersionedDefinitions["created"];

/** One change for the outbox, with the creation time of the definition it was evaluated under, when known. */
interface QueuedChange {
  kind: DefinitionKind;
  key: string;
  member: boolean;
  definitionCreatedAt: number | null;
}

function queued(created: DefinitionsCreated, kind: DefinitionKind, key: string, member: boolean): QueuedChange {
  return { kind, key, member, definitionCreatedAt: created?.[definitionId(kind, key)] ?? null };
}

/** True when there is nothing to evaluate and nothing to take back: the common case before any definition exists. */
function idle(sql: SqlStorage, set: DefinitionSet): boolean {
  if (Object.keys(set.audiences).length > 0 || Object.keys(set.computed).length > 0) return false;
  if (!hasPart(sql, "audiences")) return true;
  const held = sql.exec<{ n: number }>(
    "SELECT (SELECT count(*) FROM memberships) + (SELECT count(*) FROM computed_values) AS n",
  );
  return held.one().n === 0;
}

/** What one evaluation changed. */
export interface EvaluationOutcome {
  /** Outbox rows written (membership enters/exits and computed values gained/lost). */
  changes: number;
  /** When time alone can next change anything (the alarm), `null` for never. */
  nextEvalAt: number | null;
  /** What the next evaluation may build on, once this one's transaction has committed (see `evaluateAll`). */
  memo: EvaluationMemo | null;
}

/**
 * Evaluates every definition of `set` at `now` and commits the differences: memberships, computed values, outbox
 * rows (each naming its definition by its time in `created`), and `next_eval_at`. Synchronous, so callers run it
 * inside the transaction of the write that caused it.
 *
 * When a profile trait (`traitsChanged`, the caller knows) or a computed value changed, each audience the profile
 * stays in is restated (an outbox row `member: true` under a new `seq`): destinations syncing that audience then
 * upsert the member's new traits (DESIGN §7), and D1 only moves the member row's `seq`. `memo` gives what this
 * profile's last committed evaluation left, if the caller kept it (asked only when there is something to evaluate).
 */
export function evaluateProfile(
  sql: SqlStorage,
  { set, created }: Pick<VersionedDefinitions, "set" | "created">,
  now: number,
  {
    traitsChanged = false,
    memo = () => null,
  }: { traitsChanged?: boolean; memo?: (set: DefinitionSet) => EvaluationMemo | null } = {},
): EvaluationOutcome {
  if (idle(sql, set)) {
    // Guarded, so the common case (no definitions, nothing due) writes nothing. Without the audience part nothing was
    // ever evaluated here (see readNextEvalAt): nothing to clear either.
    if (hasPart(sql, "audiences")) {
      sql.exec("UPDATE profile_meta SET next_eval_at = NULL WHERE singleton = 1 AND next_eval_at IS NOT NULL");
    }
    return { changes: 0, nextEvalAt: null, memo: null };
  }
  ensurePart(sql, "audiences");
  const result = evaluateAll(set, sqlFacts(sql), now, memo(set));
  const changes: QueuedChange[] = [];
  const change = (kind: DefinitionKind, key: string, member: boolean) =>
    changes.push(queued(created, kind, key, member));
  let valuesChanged = traitsChanged;

  const storedComputed = new Map(
    sql
      .exec<{ key: string; value: string; since: number | null }>("SELECT key, value, since FROM computed_values")
      .toArray()
      .map((r) => [r.key, r]),
  );
  for (const [key, value] of Object.entries(result.computed)) {
    const json = JSON.stringify(value ?? null);
    const before = storedComputed.get(key);
    storedComputed.delete(key);
    if (before?.value === json) continue;
    valuesChanged = true;
    // `before` was computed by the same definition: a replaced one's value went with it (`leaveReplaced`).
    const op = set.computed[key]?.op;
    const had = before ? holdsValue(JSON.parse(before.value), op) : false;
    const has = holdsValue(value, op);
    const since = has ? (had ? (before?.since ?? now) : now) : null;
    sql.exec(
      `INSERT INTO computed_values (key, value, since) VALUES (?1, ?2, ?3)
       ON CONFLICT (key) DO UPDATE SET value = ?2, since = ?3`,
      key,
      json,
      since,
    );
    if (had !== has) change("computed_trait", key, has);
  }
  // Values of traits that are no longer defined (those whose definition the profile knew `leaveReplaced` ended).
  for (const [key, before] of storedComputed) {
    sql.exec("DELETE FROM computed_values WHERE key = ?", key);
    if (holdsValue(JSON.parse(before.value), undefined)) change("computed_trait", key, false);
  }

  const storedAudiences = new Set(
    sql
      .exec<{ audience: string }>("SELECT audience FROM memberships")
      .toArray()
      .map((r) => r.audience),
  );
  const stayed: string[] = [];
  for (const key of result.audiences) {
    if (storedAudiences.delete(key)) {
      stayed.push(key);
      continue;
    }
    sql.exec("INSERT INTO memberships (audience, since) VALUES (?, ?)", key, now);
    change("audience", key, true);
  }
  // Left, or no longer defined (as above).
  for (const key of storedAudiences) {
    sql.exec("DELETE FROM memberships WHERE audience = ?", key);
    change("audience", key, false);
  }
  if (valuesChanged) for (const key of stayed) change("audience", key, true);

  enqueueChanges(sql, changes, now);
  sql.exec("UPDATE profile_meta SET next_eval_at = ? WHERE singleton = 1", result.nextChangeAt);
  return { changes: changes.length, nextEvalAt: result.nextChangeAt, memo: result.memo ?? null };
}

/**
 * Everything this profile is in or holds ends: it was merged away or erased. Queues the exits and clears the state,
 * in the caller's transaction. Returns how many exits were queued.
 */
export function leaveEverything(sql: SqlStorage, held: VersionedDefinitions, now: number): number {
  // Without the audience part the profile is in nothing, and next_eval_at was never set (see readNextEvalAt).
  if (!hasPart(sql, "audiences")) return 0;
  sql.exec("UPDATE profile_meta SET next_eval_at = NULL WHERE singleton = 1");
  return leave(sql, now, held, () => true);
}

/**
 * Queues `changes` under the profile's next seqs. Each row keeps its definition's creation time now: when it is
 * delivered the profile may already hold a newer definition of the key, which the row must not be taken for.
 */
function enqueueChanges(sql: SqlStorage, changes: QueuedChange[], at: number): void {
  if (changes.length === 0) return;
  const { seq } = sql
    .exec<{ seq: number }>(
      "UPDATE profile_meta SET change_seq = change_seq + ? WHERE singleton = 1 RETURNING change_seq - ? AS seq",
      changes.length,
      changes.length,
    )
    .one();
  changes.forEach((c, i) => {
    sql.exec(
      "INSERT INTO outbox (seq, kind, key, member, at, definition_created_at) VALUES (?, ?, ?, ?, ?, ?)",
      seq + i + 1,
      c.kind,
      c.key,
      c.member ? 1 : 0,
      at,
      c.definitionCreatedAt,
    );
  });
}

/** The next instant time alone can change this profile, as last evaluated; null for one that is not live. */
export function readNextEvalAt(sql: SqlStorage): number | null {
  // Only an evaluation with a definition sets it, and that creates the audience part first.
  if (!hasPart(sql, "audiences")) return null;
  const row = sql
    .exec<{ at: number | null }>(
      "SELECT next_eval_at AS at FROM profile_meta WHERE singleton = 1 AND status = 'active'",
    )
    .toArray()[0];
  return row?.at ?? null;
}

/** The computed values and memberships the profile view shows. */
export function readAudienceView(sql: SqlStorage): {
  computed: Record<string, unknown>;
  audiences: Array<{ key: string; since: number }>;
} {
  if (!hasPart(sql, "audiences")) return { computed: {}, audiences: [] };
  const computed = Object.fromEntries(
    sql
      .exec<{ key: string; value: string }>("SELECT key, value FROM computed_values ORDER BY key")
      .toArray()
      .map((r) => [r.key, JSON.parse(r.value)]),
  );
  const audiences = sql
    .exec<{ audience: string; since: number }>("SELECT audience, since FROM memberships ORDER BY since, audience")
    .toArray()
    .map((r) => ({ key: r.audience, since: r.since }));
  return { computed, audiences };
}

/** Stored memberships and computed values, as a preview of an unsaved definition reads them. */
export function readEvaluationState(sql: SqlStorage): { computed: Record<string, unknown>; memberships: Set<string> } {
  const { computed, audiences } = readAudienceView(sql);
  return { computed, memberships: new Set(audiences.map((a) => a.key)) };
}
