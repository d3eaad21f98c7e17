/**
 * `<file>.rejects.ndjson`: one line per rejected row, `{"row","line","messageId","error","input"}`, where `input`
 * is the row as read (the CSV record, or the JSON message), and `cells` every field of a CSV row whose number of
 * fields is not the header's (a record has no name for the extra ones). Written before the checkpoint moves over those rows,
 * so a resumed import keeps earlier rejects and never lists a row twice.
 */
import { appendFile, readFile, rm, writeFile } from "node:fs/promises";

export interface RejectEntry {
  row: number;
  line?: number;
  messageId?: string;
  error: string;
  input: unknown;
  cells?: string[];
}

/** @example rejectsPath("orders.csv") // "orders.csv.rejects.ndjson"; stdin's go to the working directory */
export const rejectsPath = (file: string): string => (file === "-" ? "stdin.rejects.ndjson" : `${file}.rejects.ndjson`);

/** The rejects file of one run; created on the first reject, so a clean import leaves none behind. */
export class RejectsFile {
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
  static async open(path: string, keepRows: number | null): Promise<RejectsFile> {
    if (keepRows === null) {
      await rm(path, { force: true });
      return new RejectsFile(path, false);
    }
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new RejectsFile(path, false);
      throw err;
    }
    const kept = text.split("\n").filter((line) => line.trim() !== "" && rowOf(line) <= keepRows);
    if (kept.length === 0) {
      await rm(path, { force: true });
      return new RejectsFile(path, false);
    }
    await writeFile(path, kept.map((line) => `${line}\n`).join(""));
    return new RejectsFile(path, true);
  }

  /** Appends entries (in one write); writes happen in call order. */
  write(entries: readonly RejectEntry[]): Promise<void> {
    if (entries.length === 0) return this.chain;
    const text = entries.map((entry) => `${JSON.stringify(entry)}\n`).join("");
    this.chain = this.chain.then(async () => {
      await (this.exists ? appendFile(this.path, text) : writeFile(this.path, text));
      this.exists = true;
    });
    return this.chain;
  }

  /** Whether the file is on disk (it is unless nothing was ever rejected). */
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
