/**
 * A quote that opens a cell and is not closed on its row makes csv-parse read the lines below it as that one cell:
 * to the end of the file when no other quote follows, else up to the next quote, most often the one that opens a
 * cell of a later row. Found here, by csv-parse itself, so that the row the quote opened on is rejected alone and
 * the lines after it are read again as the rows they are. A quoted cell that holds line breaks and is closed (a
 * quote followed by a separator or the end of its row) is a cell, never this.
 */
import { type CsvError, parse } from "csv-parse/sync";

/** A row whose quote took in the lines below it, split where that quote opened. */
export interface SwallowingRow {
  /** How many lines below the row's first the quote opened (a closed multi-line cell may come before it). */
  openedOn: number;
  /** The row's text: its lines up to and with the one the quote opened on. */
  text: string;
  /** The lines after it, to be read as rows again. */
  rest: string;
}

/**
 * The row of `raw`, the text csv-parse gave for a record whose field number `openField` (its CsvError's `index`) was
 * still quoted at the end of the input, and the lines after the one that quote opened on.
 *
 * @example unclosedQuoteRow('7,"Jane,42\n8,Bob,3\n', 1, ",") // { openedOn: 0, text: '7,"Jane,42\n', rest: "8,Bob,3\n" }
 */
export function unclosedQuoteRow(raw: string, openField: number, delimiter: string): SwallowingRow {
  const lines = recordLines(raw);
  return splitAt(lines, lineOpening(lines, openField, lines.length - 1, delimiter));
}

/**
 * When the record csv-parse read as `raw` is several lines only because a quote opened on one of them took in the
 * lines below, up to a quote that is followed by neither a separator nor the end of a row (so one that opens a
 * cell, not one that closes it): that row, split there; otherwise null.
 *
 * @example swallowedLines('7,"Jane,42\n8,Bob,3\n9,"Ann",5\n', ",")?.rest // '8,Bob,3\n9,"Ann",5\n'
 */
export function swallowedLines(raw: string, delimiter: string): SwallowingRow | null {
  const lines = recordLines(raw);
  if (lines.length < 2) return null;
  // Strict quotes stop at the first quote that ends a quoted cell without a separator after it; the relaxed reading
  // the rows went through is the same up to there.
  const strict = strictError(lines.join(""), delimiter);
  if (strict?.code !== "CSV_INVALID_CLOSING_QUOTE") return null;
  const closedOn = physicalLine(lines, strict.lines);
  if (closedOn === 0 || openFieldAt(lines, closedOn - 1, delimiter) !== strict.index) return null;
  return splitAt(lines, lineOpening(lines, strict.index, closedOn - 1, delimiter));
}

function splitAt(lines: readonly string[], openedOn: number): SwallowingRow {
  return { openedOn, text: lines.slice(0, openedOn + 1).join(""), rest: lines.slice(openedOn + 1).join("") };
}

/** The record's lines, each with its line break, after the blank lines csv-parse passed over before it. */
function recordLines(raw: string): string[] {
  const lines = raw.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
  const first = lines.findIndex((line) => !/^[\r\n]+$/.test(line));
  return first === -1 ? [] : lines.slice(first);
}

/**
 * The first of `lines[0…last]` at whose end the record's field `field` is open: the line its quote opened on. A field
 * open at the end of one line is open at the end of every later one up to `last`, so the line is searched for, from
 * the first (where it nearly always is) by steps that double, then halve: a long quoted cell above it costs a few
 * readings, not one per line.
 */
function lineOpening(lines: readonly string[], field: number, last: number, delimiter: string): number {
  const opened = (line: number) => openFieldAt(lines, line, delimiter) === field;
  let below = -1;
  let at = 0;
  while (at < last && !opened(at)) {
    below = at;
    at = Math.min(last, 2 * at + 1);
  }
  while (at - below > 1) {
    const middle = (below + at) >> 1;
    if (opened(middle)) at = middle;
    else below = middle;
  }
  return at;
}

/** Which field of the record is still quoted at the end of `lines[0…line]`, as the rows are read; null if none. */
function openFieldAt(lines: readonly string[], line: number, delimiter: string): number | null {
  let open: number | null = null;
  parse(lines.slice(0, line + 1).join(""), {
    delimiter,
    relax_quotes: true,
    relax_column_count: true,
    skip_records_with_error: true,
    on_skip: (err) => {
      if (err?.code === "CSV_QUOTE_NOT_CLOSED") open = (err as CsvError & { index: number }).index;
    },
  });
  return open;
}

function strictError(text: string, delimiter: string): (CsvError & { lines: number; index: number }) | null {
  try {
    parse(text, { delimiter, relax_column_count: true });
    return null;
  } catch (err) {
    return err as CsvError & { lines: number; index: number };
  }
}

/**
 * Which of a record's `lines` csv-parse's line number `counted` is: inside quotes it counts a CRLF as two lines, and
 * every line break of a record but its last is inside quotes.
 */
function physicalLine(lines: readonly string[], counted: number): number {
  let at = 1;
  for (let line = 0; line < lines.length; line++) {
    if (at >= counted) return line;
    at += lines[line].endsWith("\r\n") ? 2 : 1;
  }
  return lines.length - 1;
}
