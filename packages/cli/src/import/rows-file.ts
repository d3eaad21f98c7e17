/**
 * An NDJSON file of rows, one line per row, each with its `row` number: the rejects file and the warnings file. Written
 * before the checkpoint moves over those rows, so a resumed import keeps the lines of earlier runs and never lists a
 * row twice.
 */
import { appendFile, readFile, rm, writeFile } from "node:fs/promises";

/** One run's file; created on its first line, so an import with nothing to list leaves none behind. */
export class RowsFile<Entry extends { row: number }> {
  private chain: Promise<void> = Promise.resolve();
  private exists: boolean;

  private constructor(
    readonly path: string,
    exists: boolean,
  ) {
    this.exists = exists;
  }

  /**
   * A fresh file (the old one removed), or for `--resume` the old one trimmed to rows `1…keepRows`: rows after
   * the checkpoint are about to be read again and would otherwise be listed twice.
   */
  static async open<Entry extends { row: number }>(path: string, keepRows: number | null): Promise<RowsFile<Entry>> {
    if (keepRows === null) {
      await rm(path, { force: true });
      return new RowsFile<Entry>(path, false);
    }
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new RowsFile<Entry>(path, false);
      throw err;
    }
    const kept = text.split("\n").filter((line) => line.trim() !== "" && rowOf(line) <= keepRows);
    if (kept.length === 0) {
      await rm(path, { force: true });
      return new RowsFile<Entry>(path, false);
    }
    await writeFile(path, kept.map((line) => `${line}\n`).join(""));
    return new RowsFile<Entry>(path, true);
  }

  /** Appends entries (in one write); writes happen in call order. */
  write(entries: readonly Entry[]): Promise<void> {
    if (entries.length === 0) return this.chain;
    const text = entries.map((entry) => `${JSON.stringify(entry)}\n`).join("");
    this.chain = this.chain.then(async () => {
      await (this.exists ? appendFile(this.path, text) : writeFile(this.path, text));
      this.exists = true;
    });
    return this.chain;
  }

  /** Whether the file is on disk (it is unless nothing was ever listed). */
  get written(): boolean {
    return this.exists;
  }
}

function rowOf(line: string): number {
  try {
    const row = (JSON.parse(line) as { row?: unknown }).row;
    return typeof row === "number" ? row : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
