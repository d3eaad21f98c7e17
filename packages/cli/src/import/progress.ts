/**
 * What the operator sees while an import runs: a progress bar (rows/s, ETA from the rows' place in the file) on a terminal,
 * a plain line every few seconds otherwise (CI logs, `| tee`), and the summary at the end.
 */
import { Presets, SingleBar } from "cli-progress";

/** Where an import stands; rows are this run's acknowledged rows. */
export interface ProgressState {
  rows: number;
  accepted: number;
  /** Rows the collector already held under their messageId: not stored again. */
  duplicates: number;
  rejected: number;
  /** Where in the file the rows sent so far end, in bytes (not the bytes read: reading runs ahead of sending). */
  position: number;
}

export interface ProgressOptions {
  stream: NodeJS.WritableStream;
  /** A terminal gets the bar; anything else gets plain lines. */
  tty: boolean;
  /** The input's size in bytes, when known: the bar's total and the ETA's basis. */
  size?: number;
  /** Plain lines at most this often (default 5 s). */
  intervalMs?: number;
  /** What accepted rows are called ("valid" in a dry run). */
  acceptedLabel?: string;
  now?: () => number;
}

export interface Progress {
  update(state: ProgressState): void;
  /** A line that must not be drawn over by the bar (retries, warnings). */
  log(line: string): void;
  stop(): void;
}

const count = (n: number) => n.toLocaleString("en-US");

/** Rows per second since `startedAt`, rounded. */
export function rowsPerSecond(rows: number, elapsedMs: number): number {
  return elapsedMs > 0 ? Math.round((rows * 1000) / elapsedMs) : 0;
}

/**
 * The display for one import.
 * @example const progress = createProgress({ stream: process.stderr, tty: process.stderr.isTTY, size });
 */
export function createProgress(options: ProgressOptions): Progress {
  const now = options.now ?? Date.now;
  const startedAt = now();
  return options.tty ? barProgress(options, now, startedAt) : lineProgress(options, now, startedAt);
}

function barProgress(options: ProgressOptions, now: () => number, startedAt: number): Progress {
  const sized = options.size !== undefined && options.size > 0;
  const format = sized
    ? " {bar} {percentage}% | {rows} rows | {rate} rows/s{already} | {rejected} rejected | ETA {eta_formatted}"
    : " {rows} rows | {rate} rows/s{already} | {rejected} rejected | {duration_formatted}";
  const bar = new SingleBar(
    { format, stream: options.stream, hideCursor: true, etaBuffer: 50, clearOnComplete: false },
    Presets.shades_classic,
  );
  bar.start(sized ? (options.size as number) : 0, 0, { rows: "0", rate: "0", already: "", rejected: "0" });
  return {
    update(state) {
      const payload = {
        rows: count(state.rows),
        rate: count(rowsPerSecond(state.rows, now() - startedAt)),
        already: state.duplicates > 0 ? ` | ${count(state.duplicates)} already stored` : "",
        rejected: count(state.rejected),
      };
      bar.update(sized ? state.position : 0, payload);
    },
    log(line) {
      options.stream.write(`\r\x1b[2K${line}\n`);
      bar.render();
    },
    stop() {
      bar.stop();
    },
  };
}

function lineProgress(options: ProgressOptions, now: () => number, startedAt: number): Progress {
  const interval = options.intervalMs ?? 5000;
  let lastLine = startedAt;
  return {
    update(state) {
      const at = now();
      if (at - lastLine < interval) return;
      lastLine = at;
      const share =
        options.size && options.size > 0
          ? `, ${Math.min(100, Math.floor((state.position * 100) / options.size))}%`
          : "";
      options.stream.write(
        `${count(state.rows)} rows (${count(rowsPerSecond(state.rows, at - startedAt))} rows/s${share}): ` +
          `${count(state.accepted)} ${options.acceptedLabel ?? "accepted"}, ` +
          (state.duplicates > 0 ? `${count(state.duplicates)} already stored, ` : "") +
          `${count(state.rejected)} rejected\n`,
      );
    },
    log(line) {
      options.stream.write(`${line}\n`);
    },
    stop() {},
  };
}

/** What the summary reports. `before` is what earlier runs did (from the checkpoint on `--resume`). */
export interface SummaryFacts {
  source: string;
  dryRun: boolean;
  rows: number;
  accepted: number;
  /** Rows the collector already held under their messageId (not stored again, not in `accepted`). */
  duplicates?: number;
  /** What to do about them, by where the messageIds come from. */
  duplicateHint?: string;
  rejected: number;
  batches: number;
  elapsedMs: number;
  skipped: number;
  /** CSV rows passed over because every cell was empty (a spreadsheet's blank rows): not rows of the export. */
  blankRows?: number;
  before?: { accepted: number; duplicates?: number; rejected: number; warned?: number };
  rejectsPath?: string;
  /** Rows stored with a value identity resolution will not use (this run's), listed in `warningsPath`. */
  warned?: number;
  /** How many of `warned` were in batches that also held rows already stored: perhaps stored by an earlier run. */
  warnedPerhapsBefore?: number;
  warningsPath?: string;
  stoppedBecause?: string;
  /** A checkpoint exists to resume from (not for stdin). */
  resumable?: boolean;
}

/**
 * The closing lines.
 * @example formatSummary({ source: "orders.csv", dryRun: false, rows: 3, accepted: 2, rejected: 1, … })
 * // "orders.csv: 3 rows, 2 accepted, 1 rejected in 1 batch (0.4 s, 7 rows/s)\nRejected rows and reasons: …"
 */
export function formatSummary(facts: SummaryFacts): string {
  const verb = facts.dryRun ? "valid" : "accepted";
  const seconds = (facts.elapsedMs / 1000).toFixed(1);
  const batches = `${count(facts.batches)} batch${facts.batches === 1 ? "" : "es"}`;
  const duplicates = facts.duplicates ?? 0;
  const already = duplicates > 0 ? `${count(duplicates)} already stored, ` : "";
  const lines = [
    `${facts.source}: ${count(facts.rows)} row${facts.rows === 1 ? "" : "s"}, ${count(facts.accepted)} ${verb}, ${already}${count(facts.rejected)} rejected ` +
      `in ${batches} (${seconds} s, ${count(rowsPerSecond(facts.rows, facts.elapsedMs))} rows/s)` +
      (facts.dryRun ? " — dry run, nothing sent" : ""),
  ];
  if (duplicates > 0) {
    const hint = facts.duplicateHint ? ` — ${facts.duplicateHint}` : "";
    lines.push(`${count(duplicates)} already stored under the same message id: not stored again${hint}`);
  }
  const blank = facts.blankRows ?? 0;
  if (blank > 0) lines.push(`Passed over ${count(blank)} blank row${blank === 1 ? "" : "s"} (every cell empty)`);
  if (facts.skipped > 0) {
    const before = facts.before;
    const allDuplicates = duplicates + (before?.duplicates ?? 0);
    const allAlready = allDuplicates > 0 ? `${count(allDuplicates)} already stored, ` : "";
    const total = before
      ? `; with earlier runs: ${count(before.accepted + facts.accepted)} accepted, ${allAlready}` +
        `${count(before.rejected + facts.rejected)} rejected`
      : "";
    lines.push(`Skipped the first ${count(facts.skipped)} rows (done before, per the checkpoint)${total}`);
  }
  if (facts.rejectsPath) lines.push(`Rejected rows and reasons: ${facts.rejectsPath}`);
  // The file keeps the rows of earlier runs over a resume, so its count does too.
  const warned = (facts.warned ?? 0) + (facts.before?.warned ?? 0);
  if (warned > 0 && facts.warningsPath) {
    const one = warned === 1;
    const verb = facts.dryRun ? "would be" : one ? "was" : "were";
    const perhaps = facts.warnedPerhapsBefore ?? 0;
    lines.push(
      `${count(warned)} row${one ? "" : "s"} ${verb} stored by ${one ? "its" : "their"} other identifiers, without ` +
        `an email, phone or id identity resolution cannot use (not an address, no country code, a blocked value): ` +
        `which and why in ${facts.warningsPath}` +
        (perhaps > 0
          ? ` (${perhaps === warned ? (one ? "" : "all of them ") : `${count(perhaps)} of them `}perhaps by an ` +
            `earlier run: ${perhaps === 1 ? "its batch" : "their batches"} also held rows already stored, and the ` +
            "collector says how many, not which)"
          : ""),
    );
  }
  if (facts.dryRun)
    lines.push(
      "Identifiers were judged by the default identity rules (blocked values such as 0, -1, null, undefined); " +
        "a workspace's own rules may block more.",
    );
  if (facts.stoppedBecause) {
    lines.push(`Stopped before the end: ${facts.stoppedBecause}`);
    // Nothing acknowledged, by this run or one before: there is nothing to resume after.
    const acknowledged = facts.accepted + duplicates + facts.rejected + facts.skipped > 0;
    if (!facts.dryRun && facts.resumable && acknowledged) {
      lines.push("Rows acknowledged so far are in the checkpoint; run the same command with --resume to continue.");
    }
  }
  return `${lines.join("\n")}\n`;
}
