/**
 * An NDJSON file of rows, one line per row, each with its `row` number: the rejects file and the warnings file. Written
 * before the checkpoint moves over those rows, so a resumed import keeps the lines of earlier runs and never lists a
 * row twice.
 */
import { constants } from "node:fs";
import { access, appendFile, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** The file cannot be written where it was asked for (a directory, a folder that does not exist, no permission). */
export class RowsFileError extends Error {
  override name = "RowsFileError";
}

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
    try {
      // Checked before any row is sent: the file is created with its first line, after rows were sent, too late to
      // stop cleanly over a `--rejects` that names a directory.
      await mustBeWritable(path);
      return await RowsFile.reopened<Entry>(path, keepRows);
    } catch (err) {
      throw new RowsFileError(`cannot write ${path}: ${reasonOf(err)}`, { cause: err });
    }
  }

  private static async reopened<Entry extends { row: number }>(
    path: string,
    keepRows: number | null,
  ): Promise<RowsFile<Entry>> {
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

/** Throws when `path` is a directory, or neither it nor (when it does not exist yet) its directory is writable. */
async function mustBeWritable(path: string): Promise<void> {
  const found = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw err;
  });
  if (found?.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" });
  await access(found ? path : dirname(path), constants.W_OK);
}

/** A file system error in the operator's words (Node's repeat the path and the syscall). */
function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EISDIR") return "it is a directory";
  if (code === "ENOENT") return "its directory does not exist";
  if (code === "ENOTDIR") return "a part of its path is not a directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return (err as Error).message;
}

/**
 * Where a dry run lists its rows instead of `path`: a real run's rejects and warnings stay as that run left them, to
 * match its checkpoint (a later `--resume` keeps their rows before it, and skips those rows).
 *
 * @example [dryRunPath("orders.csv.rejects.ndjson"), dryRunPath("bad.ndjson")]
 * // ["orders.csv.dry-run.rejects.ndjson", "bad.dry-run.ndjson"]
 */
export function dryRunPath(path: string): string {
  return path.replace(/((\.rejects|\.warnings)?\.[^./\\]*)?$/, (ending) => `.dry-run${ending}`);
}

function rowOf(line: string): number {
  try {
    const row = (JSON.parse(line) as { row?: unknown }).row;
    return typeof row === "number" ? row : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
