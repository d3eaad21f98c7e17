/**
 * Rows from the input as a stream, never the whole file: CSV (quoting, embedded newlines, BOM; columns separated by
 * the character the header uses, or the one asked for) through csv-parse, NDJSON lines, or the elements of a JSON
 * array; from a file or stdin (`-`), gunzipped when the name ends in `.gz` or the bytes start with gzip's magic number,
 * and decoded from the file's text encoding (UTF-8 unless told otherwise or the file starts with UTF-16's mark).
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { TextDecoder } from "node:util";
import { createGunzip } from "node:zlib";
import { type CsvError, parse } from "csv-parse";
import { jsonArrayElements, jsonLines } from "./json-text";
import { TextTape } from "./text-tape";
import { type SwallowingRow, swallowedLines, unclosedQuoteRow } from "./unclosed-quote";

export type InputFormat = "csv" | "ndjson" | "json";

/** One row of the input; `row` counts rows from 1 (the checkpoint's unit), `line` is where it starts in the text. */
export type InputRow =
  | {
      kind: "csv";
      row: number;
      line: number;
      record: Record<string, string>;
      problem?: string;
      /** With `problem`: every field of the row in order, for the rejects file (the record holds no extra ones). */
      cells?: string[];
      /** With `problem`, for a row that could not be split into fields at all: its text as in the file. */
      raw?: string;
    }
  | {
      kind: "json";
      row: number;
      line: number;
      text: string;
      /** Why the row cannot be a message before it is even parsed (a line too long to keep); `text` is its beginning. */
      problem?: string;
    };

/** The input as rows, with what the progress display needs. */
export interface Input {
  rows: AsyncIterable<InputRow>;
  /** Size of the file in bytes (compressed size for `.gz`); undefined for stdin. */
  size: number | undefined;
  /** Bytes read from the file so far (compressed bytes for `.gz`), read-ahead included. */
  bytesRead(): number;
  /**
   * Where in the file the last row handed out ends, in bytes: exact for UTF-8 text, estimated from the bytes read and
   * the text they gave for `.gz` and other encodings, and below the size until the last row is out. What progress is
   * measured by: {@link bytesRead} runs up to a whole read buffer ahead of the rows.
   */
  position(): number;
  /** CSV rows passed over so far because every cell of theirs is empty (a spreadsheet's blank rows). */
  blankRows(): number;
  /** Stops reading (the import ended early); harmless after the end. */
  close(): void;
}

export interface InputOptions {
  format: InputFormat;
  stdin: Readable;
  /** The CSV column separator; undefined: the one of {@link DELIMITERS} the header line uses most. */
  delimiter?: string;
  /** CSV: lines above the header to pass over (a report's title and date), as raw lines; default 0. */
  skipLines?: number;
  /**
   * The text encoding, a WHATWG label (`windows-1252`, `iso-8859-15`, `utf-16le`…); undefined: UTF-8, or UTF-16 when
   * the bytes start with its byte-order mark. A byte-order mark wins over it (see {@link byteOrderMark}).
   */
  encoding?: string;
  /** Told when the file's byte-order mark overrides the `encoding` given (a line for the operator). */
  onNote?: (line: string) => void;
  /**
   * Called with the trimmed CSV header (an unnamed column as ""; its cells are left out of the records), and the
   * separator it was read with, before the first row; throwing stops the import with that message.
   */
  onHeader?: (header: string[], delimiter: string) => void;
}

/** The separators a CSV export uses: comma, semicolon (spreadsheets where the comma is the decimal mark), tab, pipe. */
export const DELIMITERS = [",", ";", "\t", "|"] as const;

/** How much of the file is looked at for the header line when the separator is to be found (a header is short). */
const HEADER_PEEK_BYTES = 64 * 1024;

/** The input could not be read (missing file, broken CSV quoting, not gzip…). */
export class InputError extends Error {
  override name = "InputError";
}

/**
 * Opens `file` (`-` for stdin) for streaming. Fails with {@link InputError} when it cannot be opened. A CSV row whose
 * quote opens a cell and is not closed on it is one row with a `problem`, and the lines after it are read as the rows
 * they are, not as that cell: one bad row of a till's export must not take the rows after it along, on every
 * `--resume` again.
 *
 * @example const input = await openInput("orders.csv.gz", { format: "csv", stdin: process.stdin });
 * for await (const row of input.rows) console.log(row.row, row.kind === "csv" ? row.record : row.text);
 */
export async function openInput(file: string, options: InputOptions): Promise<Input> {
  let source: Readable;
  let size: number | undefined;
  if (file === "-") {
    source = options.stdin;
  } else {
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new InputError(`${file} is not a file`);
      size = info.size;
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    source = createReadStream(file);
  }
  const counter = { bytes: 0 };
  const text: TextCount = { in: 0, bytes: 0, consumed: () => text.in, transformed: false, rowEnd: 0, done: false };
  let plain: Readable;
  try {
    plain = await decompressed(source, /\.gz$/i.test(file), counter, text);
  } catch (err) {
    if (err instanceof NotGzip) {
      source.destroy();
      throw new InputError(
        `${file} ends in .gz but is not gzip-compressed (gzip data starts with the bytes 1f 8b); ` +
          "if it is the plain file, rename it without .gz",
      );
    }
    throw new InputError(`cannot read ${file === "-" ? "stdin" : file}: ${(err as Error).message}`, { cause: err });
  }
  const bytes = Readable.from(utf8Text(plain, options.encoding, text, options.onNote), { objectMode: false });
  const blank = { rows: 0 };
  const rows = finished(
    options.format === "csv" ? csvRows(bytes, file, options, text, blank) : jsonRows(bytes, options.format, file, text),
    text,
  );
  const close = () => {
    // Whatever a destroyed stream still reports is of no interest any more.
    for (const stream of [bytes, plain, source]) {
      stream.on("error", () => {});
      stream.destroy();
    }
  };
  const position = () => filePosition(text, counter.bytes);
  return { rows, size, bytesRead: () => counter.bytes, position, blankRows: () => blank.rows, close };
}

/**
 * The UTF-8 text the file gave so far (its bytes are the file's own unless `transformed`: gunzipped or decoded from
 * another encoding), the bytes of the file behind it, and where in that text the last row handed out ends.
 */
interface TextCount {
  /** Bytes into the decoding (gunzipped ones for `.gz`). */
  in: number;
  /** Bytes of text out of it. */
  bytes: number;
  /** Bytes of the file the text so far was made of: those gunzip has taken in, or `in`. */
  consumed: () => number;
  transformed: boolean;
  rowEnd: number;
  /** Every row is out. */
  done: boolean;
}

/** See {@link Input.position}. */
function filePosition(text: TextCount, bytesRead: number): number {
  if (!text.transformed || text.done) return text.done ? bytesRead : text.rowEnd;
  if (text.bytes === 0) return 0;
  // The file's bytes per byte of text so far (not the bytes read: reading runs ahead of gunzip and the decoder).
  return Math.min(Math.round((text.rowEnd * text.consumed()) / text.bytes), bytesRead - 1);
}

/** `rows`, noting in `text` when the last one is out. */
async function* finished(rows: AsyncIterable<InputRow>, text: TextCount): AsyncGenerator<InputRow> {
  yield* rows;
  text.done = true;
}

/** A file named `.gz` whose first bytes are not gzip's magic number (zlib would only say "incorrect header check"). */
class NotGzip extends Error {}

/**
 * The plain bytes: gunzipped when told to or when the first bytes are gzip's magic number. Told to (a `.gz` name) but
 * without the magic number, {@link NotGzip}: most often a plain export renamed, or saved under a `.gz` name.
 */
async function decompressed(
  source: Readable,
  gzipped: boolean,
  counter: { bytes: number },
  text: TextCount,
): Promise<Readable> {
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      counter.bytes += chunk.length;
      yield chunk;
    }
  }
  const chunks = counted();
  const first = await chunks.next();
  const head = first.done ? undefined : Buffer.from(first.value);
  const raw = Readable.from(replayed(head ? [head] : [], chunks), { objectMode: false });
  const magic = head !== undefined && head[0] === 0x1f && head[1] === 0x8b;
  if (gzipped && !magic) throw new NotGzip();
  if (!magic) return raw;
  const gunzip = createGunzip();
  text.transformed = true;
  text.consumed = () => gunzip.bytesWritten;
  raw.on("error", (err) => gunzip.destroy(err));
  gunzip.on("error", () => raw.destroy());
  return raw.pipe(gunzip);
}

/**
 * The text of `bytes` as UTF-8: decoded as its byte-order mark says when it starts with one (UTF-16 is what Excel's
 * "Unicode Text" saves), else from `encoding`, or else checked to be UTF-8 and passed on as it is. Text that is not valid in
 * its encoding stops the input at that line: a file a Windows program saved in windows-1252 would otherwise be sent
 * with "�" in place of every accented letter — stored, and wrong in every MAP it reaches.
 */
async function* utf8Text(
  bytes: AsyncIterable<Buffer>,
  encoding: string | undefined,
  count: TextCount,
  onNote?: (line: string) => void,
): AsyncGenerator<Buffer> {
  let decoder: TextDecoder | undefined;
  let label = "";
  let lines = 0;
  for await (const raw of bytes) {
    const chunk = Buffer.from(raw);
    count.in += chunk.length;
    if (!decoder) {
      const marked = byteOrderMark(chunk);
      label = marked ?? encoding ?? "utf-8";
      if (marked !== undefined && encoding !== undefined && !sameEncoding(marked, encoding))
        onNote?.(`The file starts with a ${marked} byte-order mark: read as ${marked}, not as --encoding ${encoding}.`);
      decoder = new TextDecoder(label, { fatal: true });
      if (label !== "utf-8") count.transformed = true;
    }
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch {
      throw new Error(notText(label, encoding, chunk, lines));
    }
    // UTF-8 in, UTF-8 out: the bytes as they came (the decoding only checked them).
    const out = label === "utf-8" ? chunk : Buffer.from(text);
    count.bytes += out.length;
    yield out;
    lines += countNewlines(text);
  }
  try {
    const rest = Buffer.from(decoder?.decode() ?? "");
    count.bytes += rest.length;
    if (rest.length > 0) yield rest;
  } catch {
    throw new Error(`line ${lines + 1} ends the file in the middle of a character: it is not valid ${label} text`);
  }
}

/**
 * `utf-8`, `utf-16le` or `utf-16be` when `head` starts with that byte-order mark. It wins over an `--encoding`: the
 * mark is the file's own statement, and `EF BB BF` read as windows-1252 would send "ï»¿" glued to the first column's
 * name and mangle every non-ASCII letter after it — a script that always passes `--encoding windows-1252` for a till
 * whose export is one day saved as UTF-8 would import garbage. Stopping instead would fail a nightly job over a file
 * that says exactly how to read it; the operator is told which encoding was used.
 */
function byteOrderMark(head: Buffer): string | undefined {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return "utf-8";
  if (head[0] === 0xff && head[1] === 0xfe) return "utf-16le";
  if (head[0] === 0xfe && head[1] === 0xff) return "utf-16be";
  return undefined;
}

/**
 * Why `chunk` could not be decoded, with the line (counted from `linesBefore`) and, for UTF-8, the byte; when the
 * encoding was not chosen, the likely one to choose. Only on the way to an error, so it may decode the chunk again.
 */
function notText(label: string, chosen: string | undefined, chunk: Buffer, linesBefore: number): string {
  // A character begun in the previous chunk leaves continuation bytes (10xxxxxx) first: not this chunk's fault.
  let start = 0;
  if (label === "utf-8") while (start < 3 && (chunk[start] & 0xc0) === 0x80) start++;
  const text = new TextDecoder(label).decode(chunk.subarray(start));
  const bad = Math.max(0, text.indexOf("\uFFFD"));
  const line = linesBefore + 1 + countNewlines(text.slice(0, bad));
  if (chosen !== undefined) return `line ${line} is not valid ${label} text: is --encoding ${chosen} the file's?`;
  const byte = chunk[start + Buffer.byteLength(text.slice(0, bad))];
  const shown = byte === undefined ? "" : ` (byte 0x${byte.toString(16).toUpperCase().padStart(2, "0")})`;
  return (
    `line ${line} is not UTF-8${shown}: a file saved by Excel or another Windows program is most often ` +
    "windows-1252 — add --encoding windows-1252 (or the file's encoding: iso-8859-15, utf-16le, …)"
  );
}

/** Whether a WHATWG `label` (`utf8`, `UTF-8`, `unicode-1-1-utf-8`…) names `canonical`. */
function sameEncoding(canonical: string, label: string): boolean {
  try {
    return new TextDecoder(label).encoding === canonical;
  } catch {
    return false;
  }
}

function countNewlines(text: string): number {
  let n = 0;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) n++;
  return n;
}

/**
 * The CRLFs inside a record's raw text, but for the one ending it: they can only be inside quoted fields, where
 * csv-parse (7.0) counts each as two lines.
 *
 * @example quotedCrlfs('L-1,"a\r\nb",x\r') // 1
 */
function quotedCrlfs(raw: string): number {
  let n = 0;
  const end = raw.endsWith("\r\n") ? raw.length - 2 : raw.length;
  for (let at = raw.indexOf("\r\n"); at !== -1 && at < end; at = raw.indexOf("\r\n", at + 2)) n++;
  return n;
}

/**
 * The separator of {@link DELIMITERS} that `headerLine` uses most outside double quotes; a comma when it uses none
 * (a one-column file). Our own rather than csv-parse's `delimiter_auto`, which scores every character (letters
 * included) and stops at the first quoted field of the lines it samples.
 *
 * @example [delimiterOfHeader("receipt;total"), delimiterOfHeader('"a;b",c')] // [";", ","]
 */
export function delimiterOfHeader(headerLine: string): string {
  const counts = new Map<string, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const char of headerLine) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && counts.has(char)) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  let best: string = DELIMITERS[0];
  for (const [delimiter, count] of counts) if (count > (counts.get(best) ?? 0)) best = delimiter;
  return best;
}

/**
 * The header line of `bytes` (the first with something on it, within {@link HEADER_PEEK_BYTES}), and the same bytes
 * again from the start.
 */
async function peekHeaderLine(bytes: Readable): Promise<{ line: string; bytes: Readable }> {
  const chunks = bytes[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let size = 0;
  while (size < HEADER_PEEK_BYTES) {
    const next = await chunks.next();
    if (next.done) break;
    const chunk = Buffer.from(next.value);
    head.push(chunk);
    size += chunk.length;
    if (chunk.includes(0x0a)) break;
  }
  const text = Buffer.concat(head)
    .toString("utf8")
    .replace(/^\uFEFF/, "");
  // The header is the first line with something on it (csv-parse skips empty lines too).
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
  return { line, bytes: Readable.from(replayed(head, chunks), { objectMode: false }) };
}

/** A delimiter as messages show it: `tab`, or the character in quotes. */
export function shownDelimiter(delimiter: string): string {
  return delimiter === "\t" ? "tab" : `"${delimiter}"`;
}

/** `head` (bytes read ahead to look at them), then the rest of `chunks`: the stream as if nothing had been read. */
async function* replayed(head: readonly Buffer[], chunks: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield* head;
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
}

async function* csvRows(
  text: Readable,
  file: string,
  options: Pick<InputOptions, "delimiter" | "onHeader" | "skipLines">,
  count: TextCount,
  blank: { rows: number },
): AsyncGenerator<InputRow> {
  const { delimiter: asked, onHeader } = options;
  const skipped = options.skipLines ?? 0;
  // csv-parse counts bytes from where it begins reading: after the skipped lines.
  const passed = { bytes: 0 };
  const source = skipped > 0 ? Readable.from(afterLines(text, skipped, passed), { objectMode: false }) : text;
  let peeked: Awaited<ReturnType<typeof peekHeaderLine>>;
  try {
    // Peeked even with `--delimiter`: a header that fails to parse with it is explained by what it does use.
    peeked = await peekHeaderLine(source);
  } catch (err) {
    throw new InputError(`${file}: ${(err as Error).message}`, { cause: err });
  }
  // No header at all (a failed nightly export): an error, not "0 rows", which would pass unnoticed.
  if (peeked.line.trim() === "") {
    const where = skipped > 0 ? ` after the ${skipped} skipped lines` : "";
    throw new InputError(`${file}: the file is empty (no header line${where})`);
  }
  const { bytes } = peeked;
  const seen = delimiterOfHeader(peeked.line);
  const delimiter = asked ?? seen;
  let width = 0;
  // The header's columns, for the passes that read lines again after a row whose quote took them in.
  let columns: (string | false)[] = [];
  const parser = (broken: Unreadable[], header: ColumnsOption) =>
    parse({
      bom: true,
      delimiter,
      info: true,
      raw: true,
      skip_empty_lines: true,
      relax_column_count: true,
      // A " inside an unquoted cell (`TV 55" Samsung`) is text, as spreadsheets read it.
      relax_quotes: true,
      skip_records_with_error: true,
      on_skip: (err: CsvError | undefined, raw: string | undefined) => {
        // A header that cannot be read leaves no columns to read rows by: the input fails.
        if (err !== undefined && width === 0) throw err;
        if (err !== undefined) broken.push(Object.assign(err as CsvError & Unreadable, { raw }));
        return undefined;
      },
      columns: header,
    });
  // What csv-parse reads, kept from the row it is at: a row whose quote took in the lines below it is rejected, and
  // those lines are read again from where they start.
  const tape = new TextTape(bytes);
  /** csv-parse reading the text from `start` bytes into it (the header's columns given, or read at the start). */
  const passFrom = (start: number, header: ColumnsOption, lineBefore: number, lineOffset = lineBefore): Pass => {
    // Records csv-parse could not read, each after the first `records` read ones: handed out in their place.
    const broken: Unreadable[] = [];
    const records = parser(broken, header);
    const text = Readable.from(tape.from(start), { objectMode: false });
    text.on("error", (err) => records.destroy(err));
    text.pipe(records);
    return { records, broken, text, start, lineOffset, lineBefore };
  };
  let row = 0;
  const swallowing = (line: number, found: SwallowingRow, problem: string): InputRow => ({
    kind: "csv",
    row: ++row,
    line,
    record: {},
    problem,
    raw: found.text,
  });

  async function* rowsOf(first: Pass): AsyncGenerator<InputRow> {
    for (let pass: Pass | null = first; pass !== null; ) {
      const { broken, lineOffset, start } = pass;
      // Lines as the file counts them, the skipped ones included.
      let lastLine = pass.lineBefore;
      let lastEmpty = 0;
      // csv-parse counts a CRLF inside a quoted field as two lines (its \r and its \n): those extra lines, so far.
      let overcounted = 0;
      // Where the last record read ends, in the pass's text.
      let recordEnd = 0;
      /** Where the record csv-parse read next starts and ends, by what it counted up to its end. */
      const place = (raw: string, info: CsvCounts) => {
        const line = lastLine + 1 + (info.empty_lines - lastEmpty);
        overcounted += quotedCrlfs(raw);
        lastLine = info.lines + lineOffset - overcounted;
        lastEmpty = info.empty_lines;
        count.rowEnd = passed.bytes + start + info.bytes;
        return line;
      };
      function* brokenBefore(records: number): Generator<InputRow> {
        while (broken.length > 0 && broken[0].records < records) {
          const err = broken.shift() as Unreadable;
          const raw = err.raw ?? "";
          const line = place(raw, err);
          yield { kind: "csv", row: ++row, line, record: {}, problem: err.message, raw };
        }
      }
      let next: Pass | null = null;
      for await (const { record, raw, info } of pass.records as AsyncIterable<{
        record: Record<string, string>;
        raw: string;
        info: CsvCounts & { records: number; error?: { record?: string[] } };
      }>) {
        yield* brokenBefore(info.records);
        tape.release(start + recordEnd);
        recordEnd = info.bytes;
        const line = place(raw, info);
        const swallowed = lastLine > line ? swallowedLines(raw, delimiter) : null;
        if (swallowed) {
          // csv-parse leaves the \n of a CRLF that ends a record out of its text.
          const end = start + info.bytes;
          const cut = swallowed.rest.endsWith("\r") && tape.byteAt(end - 1) === 0x0a ? 1 : 0;
          const after = end - Buffer.byteLength(swallowed.rest) - cut;
          count.rowEnd = passed.bytes + after;
          const opened = line + swallowed.openedOn;
          yield swallowing(line, swallowed, unclosedQuote(opened, false));
          next = passFrom(after, columns, opened);
          break;
        }
        const cells = info.error?.record;
        // A spreadsheet saves the rows below its data that once held something as lines of separators (`,,`): no row
        // of the export, and no reject to make a clean import exit 1.
        if ((cells ?? Object.values(record)).every((cell) => cell.trim() === "")) {
          blank.rows++;
          continue;
        }
        row++;
        if (cells !== undefined && cells.length !== width) {
          const problem = `the row has ${cells.length} fields; the header has ${width}`;
          yield { kind: "csv", row, line, record, problem, cells: [...cells] };
        } else yield { kind: "csv", row, line, record, problem: undefined };
      }
      pass.text.destroy();
      if (next !== null) {
        pass = next;
        continue;
      }
      // A quote still open at the end of the text is csv-parse's last error, after every record.
      const unclosed = broken.at(-1)?.code === "CSV_QUOTE_NOT_CLOSED" ? broken.pop() : undefined;
      yield* brokenBefore(Number.POSITIVE_INFINITY);
      pass = null;
      if (unclosed === undefined) continue;
      const line = lastLine + 1 + (unclosed.empty_lines - lastEmpty);
      const found = unclosedQuoteRow(unclosed.raw ?? "", unclosed.index, delimiter);
      // Inside the quote, csv-parse's text is the file's, to the end.
      const after = tape.length - Buffer.byteLength(found.rest);
      count.rowEnd = passed.bytes + after;
      const opened = line + found.openedOn;
      yield swallowing(line, found, unclosedQuote(opened, true));
      if (found.rest !== "") pass = passFrom(after, columns, opened);
    }
  }

  try {
    yield* rowsOf(
      passFrom(
        0,
        (names: string[]) => {
          const header = names.map((name) => name.trim());
          width = header.length;
          onHeader?.(header, delimiter);
          // An unnamed column's cells are skipped (`false` disables a column in csv-parse).
          columns = header.map((name) => name || false);
          return columns;
        },
        1 + skipped,
        skipped,
      ),
    );
  } catch (err) {
    // csv-parse counts lines from where it began reading.
    const after = skipped > 0 ? ` (lines counted after the ${skipped} skipped)` : "";
    // A header csv-parse cannot read at all (a quote it opens is never closed) fails before `onHeader` could say
    // what separator the header does use.
    const hint =
      width === 0 && seen !== delimiter && peeked.line.includes(seen)
        ? `; the header line looks separated by ${shownDelimiter(seen)}, not ${shownDelimiter(delimiter)}: ` +
          "leave --delimiter out to have the separator found, or give the right one"
        : "";
    throw new InputError(`${file}: ${(err as Error).message}${after}${hint}`, { cause: err });
  }
}

/** What csv-parse has counted when it hands out a record, or fails one (its error carries the same counts). */
interface CsvCounts {
  lines: number;
  empty_lines: number;
  bytes: number;
}

/** A record csv-parse could not read, with the counts where it gave up and the record's text. */
type Unreadable = Error & CsvCounts & { code?: string; records: number; index: number; raw?: string };

type ColumnsOption = (string | false)[] | ((names: string[]) => (string | false)[]);

/**
 * One reading of the text by csv-parse: the whole input, or the lines after a row whose quote took them in, read
 * again on their own.
 */
interface Pass {
  records: ReturnType<typeof parse>;
  /** Records csv-parse could not read, as it comes to them. */
  broken: Unreadable[];
  /** What feeds csv-parse: the text from `start`. */
  text: Readable;
  /** Where the pass's text starts in what csv-parse reads (the text after the skipped lines), in bytes. */
  start: number;
  /** What to add to csv-parse's line numbers for the file's. */
  lineOffset: number;
  /** The file's line of what was read just before the pass's first record (the header, or the row ahead). */
  lineBefore: number;
}

/** Why a row whose quote took in the lines below it is rejected, and that those lines were read on their own. */
function unclosedQuote(line: number, toTheEnd: boolean): string {
  const where = toTheEnd ? "is never closed" : "is not closed on its row (the next quote below opens a cell)";
  return (
    `a quote opened on line ${line} ${where}; the lines after it were read as rows of their own ` +
    '(a " that starts a cell must close it; one inside a cell is kept as text)'
  );
}

/**
 * `text` (UTF-8) without its first `n` lines: a report's title, date and blank lines above the header. Raw lines,
 * split at each newline, so an unbalanced quote in a title cannot swallow the header.
 */
async function* afterLines(text: AsyncIterable<Buffer>, n: number, passed: { bytes: number }): AsyncGenerator<Buffer> {
  let left = n;
  for await (const raw of text) {
    let chunk = Buffer.from(raw);
    while (left > 0 && chunk.length > 0) {
      const newline = chunk.indexOf(0x0a);
      const kept = newline === -1 ? chunk.subarray(chunk.length) : chunk.subarray(newline + 1);
      passed.bytes += chunk.length - kept.length;
      chunk = kept;
      if (newline !== -1) left--;
    }
    if (chunk.length > 0) yield chunk;
  }
}

async function* jsonRows(
  bytes: Readable,
  format: InputFormat,
  file: string,
  count: TextCount,
): AsyncGenerator<InputRow> {
  bytes.setEncoding("utf8");
  const chunks = bytes[Symbol.asyncIterator]() as AsyncIterator<string>;
  try {
    // Enough text to see the first character (a file may start with blank lines).
    let head = "";
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      head += next.value;
      if (head.trim() !== "") break;
    }
    // Offsets below count from after the mark.
    const mark = head.startsWith("\uFEFF") ? 3 : 0;
    head = head.slice(mark === 0 ? 0 : 1);
    if (head === "") return;
    async function* text(): AsyncGenerator<string> {
      yield head;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
    }
    // A .json file is either an array of messages or NDJSON under another name: its first character says which.
    const pieces =
      format === "json" && head.trimStart().startsWith("[") ? jsonArrayElements(text()) : jsonLines(text());
    let row = 0;
    for await (const piece of pieces) {
      count.rowEnd = mark + piece.end;
      const { text, line, problem } = piece;
      yield { kind: "json", row: ++row, line, text, ...(problem !== undefined && { problem }) };
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${file}: ${(err as Error).message}`, { cause: err });
  }
}
