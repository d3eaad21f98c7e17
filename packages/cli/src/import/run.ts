/**
 * `tessera import`, start to end: rows are read as a stream, turned into messages, packed into batches and
 * delivered with bounded concurrency that backs off when the server is busy; the checkpoint moves over the rows whose batches are all done, in order,
 * so an interrupted import resumes exactly where its acknowledged rows end.
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { version } from "../../package.json";
import { AdaptiveConcurrency } from "./adaptive-concurrency";
import type { ImportOptions } from "./args";
import { type Batch, Batcher, batchItem } from "./batcher";
import {
  type Acknowledged,
  CheckpointWriter,
  checkpointPath,
  OrderedAcks,
  RowsDigest,
  readCheckpoint,
  removeCheckpoint,
} from "./checkpoint";
import { deliverBatch } from "./deliver";
import { noUsableIdentifier, refusedText } from "./identifier-check";
import { headerProblem, unnamedColumns } from "./map-row";
import { MessageIdLedger } from "./message-ids";
import { createProgress, formatSummary } from "./progress";
import { delimiterOfHeader, InputError, type InputRow, openInput, shownDelimiter } from "./read";
import { type RejectEntry, rejectsPath } from "./rejects";
import { rowMessage, sourceNameOf } from "./row-message";
import { dryRunPath, RowsFile, RowsFileError } from "./rows-file";
import { type WarningEntry, warningsPath } from "./warnings";

/** The world an import runs in: streams, the network, the clock. Tests hand in their own. */
export interface RunDeps {
  stdin: Readable;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Draw a progress bar (stderr is a terminal) rather than plain lines. */
  tty: boolean;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Aborted on Ctrl-C: stop reading, let batches in flight finish, save the checkpoint. */
  signal?: AbortSignal;
  /** Plain progress lines at most this often (default 5 s). */
  progressIntervalMs?: number;
}

/** Exit codes (also in `--help`). */
export const EXIT = { ok: 0, rejected: 1, usage: 2, stopped: 3 } as const;

/**
 * What a checkpoint must match to be resumed: the options that decide what each row becomes. Not the encoding: rows
 * before a file's first line that is not UTF-8 read the same in the encoding it needs, so `--resume` may add it.
 */
function fingerprintOf(options: ImportOptions): string {
  const shape = JSON.stringify({ format: options.format, mapping: options.mapping, sourceName: options.sourceName });
  return createHash("sha256").update(shape).digest("hex").slice(0, 16);
}

/**
 * Runs one import and returns the exit code; expected failures (unreadable file, refused key, server down) are
 * reported on stderr, never thrown.
 *
 * @example process.exitCode = await runImport(options, { stdin: process.stdin, stdout: process.stdout,
 *   stderr: process.stderr, tty: process.stderr.isTTY === true });
 */
export async function runImport(options: ImportOptions, deps: RunDeps): Promise<number> {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const say = (line: string) => deps.stderr.write(`${line}\n`);
  const fingerprint = fingerprintOf(options);
  const checkpointFile = options.file === "-" || options.dryRun ? null : checkpointPath(options.file);

  let skip = 0;
  let before: { accepted: number; duplicates: number; rejected: number; warned: number; digest?: string } | undefined;
  // About what an earlier run stored: said once this run has reached the server too (a wrong key stores nothing).
  const notes: string[] = [];
  const previous = checkpointFile ? await readCheckpoint(checkpointFile) : null;
  if (previous && "error" in previous) {
    say(`tessera import: ${previous.error}`);
    return EXIT.usage;
  }
  // A dry run checks every row and stores nothing, so it has no checkpoint to resume from nor one to leave.
  const resuming = options.resume && !options.dryRun;
  if (options.resume && options.dryRun)
    say("A dry run checks every row and keeps no checkpoint: --resume is ignored, the check starts at the first row.");
  if (resuming) {
    if (!previous) say(`No checkpoint at ${checkpointFile}: starting from the first row.`);
    else if (previous.fingerprint !== fingerprint) {
      say(`tessera import: ${checkpointFile} was written with other mapping options; use the same options to`);
      say("resume, or run without --resume to start over (rows already stored are not stored twice).");
      return EXIT.usage;
    } else if (previous.rows > 0 && previous.digest === undefined) {
      say(
        `tessera import: ${checkpointFile} was written by an older tessera, which did not record the rows it covers;`,
      );
      say("run without --resume to start over (rows already stored are not stored twice).");
      return EXIT.usage;
    } else {
      skip = previous.rows;
      before = {
        accepted: previous.accepted,
        duplicates: previous.duplicates ?? 0,
        rejected: previous.rejected,
        warned: previous.warned ?? 0,
        digest: previous.digest,
      };
    }
  } else if (previous?.complete) {
    notes.push(`Note: ${options.file} was imported before; rows already stored are not stored twice.`);
  } else if (previous && previous.rows > 0) {
    notes.push(`Note: an earlier run stopped after ${previous.rows} rows (${checkpointFile}); starting over.`);
    notes.push("Rows already stored are not stored twice; pass --resume to skip them instead.");
  }

  // The rows read so far, to prove on `--resume` that the rows to skip are the ones the checkpoint counts as done.
  const digest = new RowsDigest();

  const mapping = options.mapping;
  let input: Awaited<ReturnType<typeof openInput>>;
  try {
    input = await openInput(options.file, {
      format: options.format,
      encoding: options.encoding,
      onNote: say,
      stdin: deps.stdin,
      delimiter: mapping?.delimiter,
      skipLines: mapping?.skipLines,
      onHeader: (header, delimiter) => {
        digest.add(JSON.stringify(header));
        const problem = mapping && headerProblem(header, mapping);
        if (problem) throw new InputError(wrongDelimiter(header, mapping?.delimiter) ?? problem);
        // A file that is not comma-separated is read as its header says: said once, so a surprise is visible.
        if (mapping?.delimiter === undefined && delimiter !== ",")
          say(`Columns separated by ${delimiterName(delimiter)}, as the header is (--delimiter to choose).`);
        const unnamed = unnamedColumns(header);
        if (unnamed.length > 0)
          say(
            `The header names no column ${unnamed.join(", ")} (of ${header.length}): ` +
              `${unnamed.length === 1 ? "its cells are" : "their cells are"} left out.`,
          );
      },
    });
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    say(`tessera import: ${err.message}`);
    return EXIT.usage;
  }

  if (options.file === "-" && options.sourceName === undefined && mapping?.messageId === undefined)
    say(
      `Rows${mapping ? "" : " without a messageId"} are hashed under the name "stdin": the same rows imported from ` +
        "their file get other messageIds and are stored again. --source-name <file name> hashes them as that file.",
    );
  const keepRows = resuming ? skip : null;
  const listed = (path: string) => (options.dryRun ? dryRunPath(path) : path);
  // Starting over removes the earlier run's checkpoint with the rejects and warnings it counts, and first: kept alone
  // (this run may acknowledge nothing), a later --resume would skip rows whose rejects are gone, yet count them.
  const unremoved = keepRows === null && checkpointFile && previous ? await removeCheckpoint(checkpointFile) : null;
  if (unremoved) {
    input.close();
    say(`tessera import: ${unremoved}`);
    return EXIT.usage;
  }
  let rejects: RowsFile<RejectEntry>;
  let warnings: RowsFile<WarningEntry>;
  try {
    rejects = await RowsFile.open<RejectEntry>(listed(options.rejects ?? rejectsPath(options.file)), keepRows);
    warnings = await RowsFile.open<WarningEntry>(listed(warningsPath(options.file)), keepRows);
  } catch (err) {
    if (!(err instanceof RowsFileError)) throw err;
    input.close();
    say(`tessera import: ${err.message}`);
    return EXIT.usage;
  }
  const checkpoints = checkpointFile ? new CheckpointWriter(checkpointFile) : null;
  const acks = new OrderedAcks({ rows: skip, accepted: 0, rejected: 0, ...before });
  const context = { library: { name: "tessera-cli", version } };
  const batcher = new Batcher({ context, maxMessages: options.batchSize });
  const progress = createProgress({
    stream: deps.stderr,
    tty: deps.tty,
    size: input.size,
    intervalMs: deps.progressIntervalMs,
    acceptedLabel: options.dryRun ? "valid" : "accepted",
    now,
  });
  const totals = { rows: 0, accepted: 0, duplicates: 0, rejected: 0, warned: 0, warnedPerhapsBefore: 0, batches: 0 };
  let stopped: string | undefined;
  let keyRefused: string | undefined;
  let notCollector: string | undefined;
  let rowsRead = 0;
  const inFlight = new Set<Promise<void>>();
  const sendWindow = new AdaptiveConcurrency({
    max: options.concurrency,
    onShrink: (limit, was) =>
      progress.log(`The server is busy: sending ${limit} batch${limit === 1 ? "" : "es"} at a time (was ${was})`),
  });
  const send = {
    url: `${options.host}/v1/batch`,
    writeKey: options.writeKey ?? "",
    fetch: deps.fetch,
    sleep: deps.sleep,
    congestion: sendWindow,
    host: { answered: false },
  };
  const userAgent = `tessera-cli/${version}`;

  const saveCheckpoint = (done: Acknowledged, complete: boolean) => {
    const file = sourceNameOf(options.file);
    const updatedAt = new Date(now()).toISOString();
    checkpoints?.save({ version: 1, file, fingerprint, ...done, complete, updatedAt });
  };

  // Where in the file the rows folded into `digest` end, and the furthest the rows of settled batches reach.
  let position = 0;
  let sentPosition = 0;
  const settle = async (batch: Batch, through: { digest: string; position: number }): Promise<void> => {
    const result = await deliverBatch(batch, {
      send: { ...send, userAgent },
      context,
      dryRun: options.dryRun,
      onRetry: (what, reason, delayMs, attempt, of) =>
        progress.log(
          `${what}: ${reason}; retrying in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${of})`,
        ),
    });
    if (!result.ok) {
      stopped ??= result.error;
      keyRefused ??= result.keyRefused;
      notCollector ??= result.notCollector;
      return;
    }
    for (const note of notes.splice(0)) progress.log(note);
    const warned = result.warnings ?? [];
    await Promise.all([rejects.write(result.rejects), warnings.write(warned)]);
    if (batch.items.length > 0) totals.batches++;
    totals.rows += batch.lastRow - batch.firstRow + 1;
    totals.accepted += result.accepted;
    totals.duplicates += result.duplicates;
    totals.rejected += result.rejects.length;
    totals.warned += warned.length;
    totals.warnedPerhapsBefore += result.warnedPerhapsBefore ?? 0;
    const done = acks.complete({
      seq: batch.seq,
      lastRow: batch.lastRow,
      accepted: result.accepted,
      duplicates: result.duplicates,
      rejected: result.rejects.length,
      warned: warned.length,
      digest: through.digest,
    });
    if (done) saveCheckpoint(done, false);
    sentPosition = Math.max(sentPosition, through.position);
    progress.update({ ...totals, position: sentPosition });
  };

  /** Sends `batch`, closed as the row after it was read: the digest and position are still its last row's. */
  const dispatch = async (batch: Batch): Promise<void> => {
    const settling: Promise<void> = settle(batch, { digest: digest.value(), position })
      .catch((err: Error) => {
        stopped ??= err.message;
      })
      .finally(() => inFlight.delete(settling));
    inFlight.add(settling);
    // Batches held at once (memory); how many of them are being sent is the window's business.
    while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
  };

  const sourceName = options.sourceName ?? sourceNameOf(options.file);
  const ledger = new MessageIdLedger();
  // A dry run shows the first row as it would be sent, so the mapping can be checked by eye before a real run.
  let firstMessage: Record<string, unknown> | undefined;
  const keepFirst = options.dryRun
    ? (message: Record<string, unknown>) => {
        firstMessage ??= message;
      }
    : undefined;
  let resumable = skip === 0;
  try {
    for await (const row of input.rows) {
      if (stopped || deps.signal?.aborted) break;
      rowsRead++;
      if (row.row <= skip) {
        remember(ledger, row, sourceName, mapping);
        digest.add(rowText(row));
        position = input.position();
        if (row.row === skip) {
          resumable = digest.value() === before?.digest;
          if (!resumable) break;
        }
        continue;
      }
      const closed = admit(batcher, ledger, row, { sourceName, mapping, dryRun: options.dryRun }, keepFirst);
      if (closed) await dispatch(closed);
      digest.add(rowText(row));
      position = input.position();
    }
    if (!resumable && !deps.signal?.aborted) {
      progress.stop();
      refuseChangedFile(say, options.file, skip);
      return EXIT.usage;
    }
    const last = stopped || deps.signal?.aborted ? null : batcher.flush();
    if (last) await dispatch(last);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    if (rowsRead === 0) {
      progress.stop();
      say(`tessera import: ${err.message}`);
      return EXIT.usage;
    }
    stopped ??= err.message;
  } finally {
    input.close();
  }
  if (deps.signal?.aborted) stopped ??= "interrupted";
  await Promise.all(inFlight);
  if (!stopped) saveCheckpoint(acks.current, true);
  try {
    await checkpoints?.flush();
  } catch (err) {
    stopped ??= (err as Error).message;
  }
  // Done, every row was sent: the whole file, blank lines after the last row included.
  progress.update({ ...totals, position: stopped ? sentPosition : input.position() });
  progress.stop();

  // Refused before anything was acknowledged: a wrong key, not an import stopped partway (nothing to resume).
  if (keyRefused !== undefined && totals.rows === 0) {
    say(`tessera import: the collector refused the write key (${keyRefused}); nothing was stored.`);
    say("--write-key (or TESSERA_WRITE_KEY) needs the source's write key, not a secret key.");
    return EXIT.usage;
  }
  // The same for a host that is not Tessera's collector at all: a wrong --host, not an import to resume.
  if (notCollector !== undefined && totals.rows === 0) {
    say(`tessera import: ${notCollector}`);
    say(
      "Nothing was counted as stored. --host (or TESSERA_HOST) needs the Tessera host, e.g. https://tessera.example.com.",
    );
    return EXIT.usage;
  }
  deps.stdout.write(
    formatSummary({
      source: options.file === "-" ? "stdin" : options.file,
      dryRun: options.dryRun,
      ...totals,
      elapsedMs: now() - startedAt,
      skipped: skip,
      blankRows: input.blankRows(),
      before,
      rejectsPath: rejects.written ? rejects.path : undefined,
      warningsPath: warnings.written ? warnings.path : undefined,
      stoppedBecause: stopped,
      resumable: checkpointFile !== null,
      duplicateHint: duplicateHint(options),
    }),
  );
  if (firstMessage)
    deps.stdout.write(`The first valid row would be sent as:\n${JSON.stringify(firstMessage, null, 2)}\n`);
  if (stopped) return EXIT.stopped;
  const rejected = totals.rejected + (before?.rejected ?? 0);
  return rejected > 0 && !options.allowRejects ? EXIT.rejected : EXIT.ok;
}

/**
 * Puts one row into the batcher (as a message, or as a local reject: invalid, or its messageId already another row's),
 * showing its message to `onMessage`; returns the batch that closed, if any. A message with values identity resolution
 * will not use carries them as warnings. One left with no identifier at all is the collector's to refuse, by the
 * workspace's rules (which may unblock a default); a dry run, which asks no collector, refuses it by the default rules.
 */
function admit(
  batcher: Batcher,
  ledger: MessageIdLedger,
  row: InputRow,
  how: { sourceName: string; mapping: ImportOptions["mapping"]; dryRun: boolean },
  onMessage?: (message: Record<string, unknown>) => void,
): Batch | null {
  const origin = { row: row.row, line: row.line, input: row.kind === "csv" ? row.record : undefined };
  const result = rowMessage(row, { sourceName: how.sourceName, mapping: how.mapping });
  const reject = (error: string) => {
    const input = row.kind === "csv" ? (row.raw ?? row.record) : parsedOrText(row.text);
    // A row of more fields than the header has cells its record cannot name: kept, so the row can be mended.
    const cells = row.kind === "csv" ? row.cells : undefined;
    return batcher.reject({ ...origin, input, ...(cells && { cells }), messageId: result.messageId, error });
  };
  if (!result.ok) return reject(result.error);
  const { usable, refused } = result.identifiers;
  if (how.dryRun && usable === 0) return reject(noUsableIdentifier(refused));
  const clash = ledger.claim(result.messageId, result.message, row.row);
  if (clash !== null) return reject(clash);
  onMessage?.(result.message);
  const warned = usable > 0 && refused.length > 0 ? { warnings: refused.map(refusedText) } : {};
  return batcher.add(batchItem({ ...origin, ...warned }, result.messageId, result.message));
}

/**
 * A row `--resume` skips (sent by an earlier run) still holds its messageId in the ledger, so a later row reusing it
 * for other content is refused across the resume point as within one run.
 */
function remember(ledger: MessageIdLedger, row: InputRow, sourceName: string, mapping: ImportOptions["mapping"]): void {
  const result = rowMessage(row, { sourceName, mapping });
  if (result.ok) ledger.claim(result.messageId, result.message, row.row);
}

/**
 * What a row the collector already held means, and what to do about it, by where messageIds come from. An id column
 * gives a row the same id whatever it is imported as, so a file imported as track and then `--as identify` under the
 * same `--message-id` stores nothing the second time; the hashed ids cover the type and event, so they differ.
 */
function duplicateHint(options: ImportOptions): string {
  if (options.mapping?.messageId !== undefined)
    return (
      "the collector keeps the first message under an id, whatever its --as or --event: to import the same rows as " +
      "another type or event, leave --message-id out (the hashed ids cover both); give rows changed since a new " +
      "--message-id, e.g. record id + updated time"
    );
  if (options.mapping) return "the same rows were imported before";
  return "a changed message needs a new messageId";
}

/**
 * A row as the checkpoint's digest covers it: its cells (all of them, also past the header's), the text of a CSV row
 * that has no cells, or its JSON text.
 */
function rowText(row: InputRow): string {
  if (row.kind === "json") return row.text;
  return row.raw ?? JSON.stringify(row.cells ?? Object.values(row.record));
}

/** `--resume` of a file whose rows up to the checkpoint are not the rows it counts as done. */
function refuseChangedFile(say: (line: string) => void, file: string, skip: number): void {
  say(`tessera import: cannot resume: the first ${skip.toLocaleString("en-US")} rows of ${file} are not the rows the`);
  say("checkpoint counts as done (the file was replaced or edited since, or an older tessera read its rows");
  say("differently), and --resume would skip them unsent.");
  say("Run the same command without --resume to import the file from its first row: rows already stored are not");
  say("stored twice (their messageIds are the same).");
}

/**
 * When the `--delimiter` asked for is not the header's: the header read as one column that holds another of the usual
 * separators. Said instead of the missing column it causes, which would name the whole header line as one column.
 */
function wrongDelimiter(header: readonly string[], asked: string | undefined): string | null {
  if (asked === undefined || header.length !== 1) return null;
  const likely = delimiterOfHeader(header[0]);
  if (likely === asked || !header[0].includes(likely)) return null;
  return (
    `--delimiter ${shownDelimiter(asked)}: the header line has no ${shownDelimiter(asked)} between columns (read as one column); ` +
    `it looks separated by ${shownDelimiter(likely)}: leave --delimiter out to have the separator found, or give the right one`
  );
}

function delimiterName(delimiter: string): string {
  return delimiter === "\t" ? "tabs" : `"${delimiter}"`;
}

function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
