/**
 * The checkpoint beside the input (`<file>.checkpoint.json`): how many rows, from the first, are fully
 * acknowledged (stored or rejected with a reason). Batches finish out of order under concurrency; the checkpoint
 * only ever moves over a gap-free prefix, so `--resume` can skip exactly those rows and nothing else.
 */
import { createHash } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";

/**
 * What the file holds. `fingerprint` names the options that shape messages, so a resume cannot mix two mappings;
 * `digest` the rows done, so a resume cannot skip rows of a file replaced or edited under the same name.
 */
export interface Checkpoint {
  version: 1;
  file: string;
  fingerprint: string;
  /** Rows 1…rows are done. */
  rows: number;
  /** {@link RowsDigest} of the header and rows 1…rows; absent from checkpoints of tessera before it was kept. */
  digest?: string;
  accepted: number;
  /**
   * Rows the collector already held under their messageId (not in `accepted`); absent from checkpoints of tessera
   * before it was kept (read as 0).
   */
  duplicates?: number;
  rejected: number;
  /** Rows stored with a value identity resolution will not use (the warnings file's rows); absent: 0. */
  warned?: number;
  /** The run that wrote it reached the end of the file. */
  complete: boolean;
  updatedAt: string;
}

/** @example checkpointPath("exports/orders.csv") // "exports/orders.csv.checkpoint.json" */
export const checkpointPath = (file: string): string => `${file}.checkpoint.json`;

/** The checkpoint at `path`; null when there is none; an error value when it is unreadable. */
export async function readCheckpoint(path: string): Promise<Checkpoint | null | { error: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    return { error: `cannot read ${path}: ${(err as Error).message}` };
  }
  try {
    const json = JSON.parse(text) as Partial<Checkpoint>;
    if (json.version === 1 && Number.isInteger(json.rows) && typeof json.fingerprint === "string") {
      return { ...json, complete: json.complete === true } as Checkpoint;
    }
  } catch {
    // Reported below, like any other unexpected content.
  }
  return { error: `${path} is not a checkpoint this version of tessera wrote; delete it to start over` };
}

/** Removes the checkpoint at `path` (none there is fine); why it could not be, or null. */
export async function removeCheckpoint(path: string): Promise<string | null> {
  try {
    await rm(path, { force: true });
    return null;
  } catch (err) {
    return `cannot remove the earlier run's checkpoint ${path}: ${(err as Error).message}`;
  }
}

/**
 * A running digest of what was read, row by row (the CSV header first), taken at any row: the checkpoint keeps the
 * one of its last row, and `--resume` compares it with the file's rows up to there before skipping them. Rows are
 * hashed as read (cells, or a message's text), so a file with rows appended still resumes, and one whose first rows
 * changed does not.
 *
 * @example const digest = new RowsDigest(); digest.add('["u1","1"]'); const atRow1 = digest.value();
 */
export class RowsDigest {
  private readonly hash = createHash("sha256");

  add(text: string): void {
    // Length-prefixed, so that no two different sequences of rows hash as one text.
    this.hash.update(`${text.length}:`).update(text);
  }

  /** The digest of everything added so far (adding may go on). */
  value(): string {
    return this.hash.copy().digest("hex").slice(0, 32);
  }
}

/** A finished batch: its last row, what became of its rows, and the {@link RowsDigest} at its last row. */
export interface BatchResult {
  seq: number;
  lastRow: number;
  accepted: number;
  duplicates?: number;
  rejected: number;
  warned?: number;
  digest?: string;
}

/** The acknowledged prefix: rows 1…rows, and what became of them. */
export interface Acknowledged {
  rows: number;
  accepted: number;
  duplicates?: number;
  rejected: number;
  warned?: number;
  digest?: string;
}

/**
 * Orders batch completions: `complete` returns the new acknowledged prefix when this completion extends it
 * (batch 2 finishing before batch 1 moves nothing; batch 1 then moves over both).
 *
 * @example
 * const acks = new OrderedAcks({ rows: 0, accepted: 0, rejected: 0 });
 * acks.complete({ seq: 1, lastRow: 20, accepted: 10, rejected: 0 }); // null
 * acks.complete({ seq: 0, lastRow: 10, accepted: 9, rejected: 1 }); // { rows: 20, accepted: 19, rejected: 1 }
 */
export class OrderedAcks {
  private next = 0;
  private readonly done = new Map<number, BatchResult>();

  constructor(private readonly progress: Acknowledged) {}

  /** The acknowledged prefix so far. */
  get current(): Acknowledged {
    return { ...this.progress };
  }

  complete(result: BatchResult): Acknowledged | null {
    this.done.set(result.seq, result);
    let moved = false;
    for (let ready = this.done.get(this.next); ready; ready = this.done.get(this.next)) {
      this.done.delete(this.next++);
      this.progress.rows = ready.lastRow;
      this.progress.accepted += ready.accepted;
      if (ready.duplicates) this.progress.duplicates = (this.progress.duplicates ?? 0) + ready.duplicates;
      if (ready.warned) this.progress.warned = (this.progress.warned ?? 0) + ready.warned;
      this.progress.rejected += ready.rejected;
      if (ready.digest !== undefined) this.progress.digest = ready.digest;
      moved = true;
    }
    return moved ? { ...this.progress } : null;
  }
}

/**
 * Writes checkpoints atomically (a temporary file renamed over the old one) and one at a time; when several
 * updates arrive during a write only the newest is written next.
 */
export class CheckpointWriter {
  private latest: Checkpoint | null = null;
  private writing: Promise<void> | null = null;
  private failure: Error | null = null;

  constructor(private readonly path: string) {}

  save(checkpoint: Checkpoint): void {
    this.latest = checkpoint;
    this.writing ??= this.drain();
  }

  /** Resolves once everything saved so far is on disk; throws the first write error. */
  async flush(): Promise<void> {
    await this.writing;
    if (this.failure) throw this.failure;
  }

  private async drain(): Promise<void> {
    // Errors are kept for `flush`: nobody awaits this promise in between, so it must never reject.
    try {
      while (this.latest && !this.failure) {
        const checkpoint = this.latest;
        this.latest = null;
        const temporary = `${this.path}.tmp`;
        await writeFile(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`);
        await rename(temporary, this.path);
      }
    } catch (err) {
      this.failure = new Error(`cannot write the checkpoint ${this.path}: ${(err as Error).message}`, { cause: err });
    } finally {
      this.writing = null;
    }
  }
}
