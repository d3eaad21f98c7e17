/**
 * The carried computed traits' memo (`EvaluationMemo`, see `evaluateAll`), kept across evictions for profiles with a
 * long history. In memory alone, the first write after an object was evicted (seconds idle locally, minutes on
 * Cloudflare) read every matching event of each carried trait's window again: for a till's walk-in
 * customer, with a sale every few minutes and millions of events, that was most writes, and past a few million events
 * more than an object's CPU limit.
 *
 * Stored in the object's synchronous KV (`ctx.storage.kv`: SQLite's hidden `_cf_KV` table, in the same transaction
 * as the write): a blob read once per wake-up, needing no table of the profile schema; workerd creates its table on
 * the first write only, so a new visitor, whose log is short, never pays for it. Stored only for a log of
 * {@link SAVE_EVERY} events or more, and then again after the log grew by as many or a trait was recomputed: a stored
 * memo a few hundred events behind still carries (the events appended since are taken in), so it need not follow
 * every write. Whatever is stored is checked against the log before use, as the
 * memory one is (`EventLog.appendedSince`), and bound only to a definition identical to the one it was made for.
 */
import type { ComputedTraitDefinition } from "@tessera/protocol";
import type { TraitProgress } from "../audiences/compute-trait";
import type { DefinitionSet, EvaluationMemo } from "../audiences/evaluate";
import type { LogPosition } from "../audiences/profile-facts";

/** A memo is worth storing once the log holds this many events, and again once it grew by as many. */
export const SAVE_EVERY = 1_000;

const KEY = "trait_memo";
/**
 * Bumped when what is stored changes shape or meaning: a memo of another format is not read, only replaced. 3: a
 * sum's partials are of values scaled by 2^-64 (`exact-sum.ts`); read as such, a 2's would be sums 2^64 too large.
 */
const FORMAT = 3;
/**
 * Durable Object storage refuses a value over 2 MB (SQLite's row limit), and a refused put inside the write's
 * transaction would fail the write itself: what is stored stays well under it, however many traits are defined.
 */
const MAX_STORED_BYTES = 1_000_000;

/**
 * At most what `progress` takes once stored (structured clone): its tally's text at two bytes a character (V8 writes
 * a string with any character past Latin-1 in UTF-16), and a few numbers per entry.
 */
function storedSize(progress: TraitProgress): number {
  let size = 64 + 10 * (progress.totals?.partials.length ?? 0);
  for (const key of progress.tally?.keys() ?? []) size += 2 * key.length + 32;
  return size;
}

interface StoredMemo {
  format: number;
  log: LogPosition;
  /** Each trait's progress, with its definition as JSON: after a wake-up the definitions are new objects. */
  traits: Record<string, { definition: string; progress: TraitProgress }>;
}

/** One ProfileDO's memo: in memory between writes, in its storage across evictions. */
export class TraitMemo {
  private memo: EvaluationMemo | null = null;
  /** False until the stored memo was read in this wake-up (and again after a rollback). */
  private loaded = false;
  /** The event count of the log when the stored memo was made; null when none is stored. */
  private storedAt: number | null = null;

  constructor(private readonly kv: SyncKvStorage) {}

  /** The memo to evaluate with under `set`: the last evaluation's, or, first in a wake-up, the stored one. */
  current(set: DefinitionSet): EvaluationMemo | null {
    if (!this.loaded) this.load(set);
    return this.memo;
  }

  /** After an evaluation, inside its transaction: keeps its memo, storing it when that is due. */
  update(memo: EvaluationMemo | null): void {
    this.memo = memo;
    if (!memo || memo.log.count < SAVE_EVERY) return;
    if (this.storedAt !== null && !memo.recomputed && memo.log.count - this.storedAt < SAVE_EVERY) return;
    const traits: StoredMemo["traits"] = {};
    let room = MAX_STORED_BYTES;
    for (const [key, { definition, progress }] of Object.entries(memo.traits)) {
      const json = JSON.stringify(definition);
      const size = 2 * (key.length + json.length) + storedSize(progress);
      // A trait that does not fit is left out: after an eviction it is recomputed, as before memos were stored.
      if (size > room) continue;
      room -= size;
      traits[key] = { definition: json, progress };
    }
    this.kv.put(KEY, { format: FORMAT, log: memo.log, traits } satisfies StoredMemo);
    this.storedAt = memo.log.count;
  }

  /** The write rolled back, taking what it stored with it: read the stored memo again when next needed. */
  forget(): void {
    this.memo = null;
    this.loaded = false;
    this.storedAt = null;
  }

  /** The log is being rebuilt (a merge undo pulls the profile back): nothing made from the old one may be carried. */
  drop(): void {
    this.memo = null;
    this.loaded = true;
    this.storedAt = null;
    this.kv.delete(KEY);
  }

  private load(set: DefinitionSet): void {
    this.loaded = true;
    const stored = this.kv.get<StoredMemo>(KEY);
    if (!stored || stored.format !== FORMAT) return;
    this.storedAt = stored.log.count;
    const traits: Record<string, { definition: ComputedTraitDefinition; progress: TraitProgress }> = {};
    for (const [key, { definition, progress }] of Object.entries(stored.traits)) {
      const now = Object.hasOwn(set.computed, key) ? set.computed[key] : undefined;
      if (now && JSON.stringify(now) === definition) traits[key] = { definition: now, progress };
    }
    this.memo = { log: stored.log, traits, recomputed: false };
  }
}
