/**
 * One CSV row → one Segment message (DESIGN §10): the mapped columns become ids, timestamp and messageId, the rest
 * become properties (track) or traits (identify), typed by {@link typedCell}. Pure: no I/O.
 */
import type { JsonObject, JsonValue } from "@tessera/protocol";
import { DateTime } from "luxon";
import { refusedExternalId, refusedText } from "./identifier-check";

/** How CSV columns become a message; built by `args.ts` from flags and `--map`. Column names are header names. */
export interface CsvMapping {
  as: "track" | "identify";
  /** The event name of every row (track). */
  event?: string;
  userId?: string;
  anonymousId?: string;
  email?: string;
  phone?: string;
  timestamp?: string;
  messageId?: string;
  /**
   * Constant properties (track) or traits (identify), already typed. They would win over a column of the same name,
   * so {@link headerProblem} refuses such a header: the column must be left out (`ignore`) for the constant to be sent.
   */
  set: Record<string, JsonValue>;
  /** Columns kept as text whatever they look like (SKUs, barcodes, zip codes). */
  strings: string[];
  /** Columns read as numbers even when written as money (`$1,234.50`, `59,90 €`); one that is not is refused. */
  numbers?: string[];
  /** Columns left out of the message. */
  ignore: string[];
  /** Column → property or trait name (`"Total Amount": "total"`). */
  rename: Record<string, string>;
  /**
   * Identifier type → the column holding it (`loyalty_number: "card_no"`), sent as `context.externalIds`, which
   * identity resolution links like any identifier (a loyalty card, a CRM record id).
   */
  externalIds?: Record<string, string>;
  /** The character between columns; undefined: the one the header uses (see `read.ts`). */
  delimiter?: string;
  /** Lines above the header to pass over (a report's title); undefined: none. */
  skipLines?: number;
  /** Numbers are written with a decimal comma (`12,50`), as spreadsheets save them in much of Europe. */
  decimalComma?: boolean;
  /** How the timestamp column is written, in Luxon's tokens (`dd.MM.yyyy HH:mm`); undefined: ISO-8601 or epoch. */
  timestampFormat?: string;
  /** The IANA zone of timestamps written without one (`Europe/Berlin`); undefined: UTC, as the collector reads them. */
  timezone?: string;
}

/** A cell that cannot be read as its mapping says: the row is rejected with this reason. */
export class CellProblem extends Error {
  override name = "CellProblem";
}

// At most 15 significant digits: every such numeral is exactly the double it reads as, so nothing is rounded.
const NUMERAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;
const NUMERAL_DECIMAL_COMMA = /^-?(?:0|[1-9]\d*)(?:,\d+)?$/;
const MAX_NUMBER_DIGITS = 15;

/**
 * The JSON value of a cell, by one rule: `true`/`false` (any case) are booleans; a plain decimal numeral without a
 * leading zero, sign `+`, exponent or separators and with at most 15 digits is a number (`42`, `-3`, `12.50`);
 * everything else stays text, so `0042`, `+33612345678`, `1e5`, `1,000` and card-like 16-digit ids keep every
 * character. The cell is trimmed first; an empty cell is `undefined` (left out, so it never blanks a trait).
 *
 * @example [typedCell("12.50"), typedCell("0042"), typedCell("TRUE"), typedCell("")] // [12.5, "0042", true, undefined]
 */
export const typedCell = cellTyping(false);
const typedCellDecimalComma = cellTyping(true);

/**
 * {@link typedCell}'s rule, or with `decimalComma` the same rule with a comma for the decimal mark (`12,50` is 12.5),
 * as spreadsheets write numbers in much of Europe; a dot is then text (`1.250` may be a thousand and a quarter or a
 * thousand two hundred and fifty: it is never guessed).
 *
 * @example cellTyping(true)("12,50") // 12.5
 */
export function cellTyping(decimalComma: boolean): (cell: string) => JsonValue | undefined {
  const numeral = decimalComma ? NUMERAL_DECIMAL_COMMA : NUMERAL;
  return (cell) => {
    const text = cell.trim();
    if (text === "") return undefined;
    const lower = text.toLowerCase();
    if (lower === "true") return true;
    if (lower === "false") return false;
    if (numeral.test(text) && text.replace(/\D/g, "").length <= MAX_NUMBER_DIGITS)
      return Number(text.replace(",", "."));
    return text;
  };
}

// Currency signs (any of Unicode's), spaces of every width, and an apostrophe used to group thousands (1'234.50).
const MONEY_DECORATION = /[\p{Sc}\s']/gu;
// An ISO 4217 code before or after the amount (USD 12, 59,90 EUR).
const CURRENCY_CODE = /^[A-Z]{3}(?![A-Z])|(?<![A-Z])[A-Z]{3}$/g;
// A numeral whose digits may be grouped in threes: 1,234.50 (or with a decimal comma 1.234,50).
const GROUPED = /^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$/;
const GROUPED_DECIMAL_COMMA = /^-?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$/;

/**
 * A `--number` column's cell: a number however a spreadsheet formatted it as money — a currency sign or ISO code,
 * thousands grouped (`,` or with `decimalComma` `.`), accounting parentheses for a negative — or undefined when empty.
 * Anything else is not guessed at: {@link CellProblem}.
 *
 * @example [numberCell("$1,234.50", false, "total"), numberCell("(12,50 €)", true, "total")] // [1234.5, -12.5]
 */
export function numberCell(cell: string, decimalComma: boolean, column: string): number | undefined {
  let text = cell.trim();
  if (text === "") return undefined;
  const negative = /^\(.*\)$/.test(text);
  if (negative) text = text.slice(1, -1);
  text = text.trim().replace(CURRENCY_CODE, "").replace(MONEY_DECORATION, "");
  // Grouping only in threes, so "12,50" in a file with a decimal point is refused, not read as 1250.
  const [group, mark, shape] = decimalComma ? [".", ",", GROUPED_DECIMAL_COMMA] : [",", ".", GROUPED];
  if (!shape.test(text) || text.replace(/\D/g, "").length > MAX_NUMBER_DIGITS) {
    const hint = decimalComma ? "" : " (written with a decimal comma? add --decimal-comma)";
    throw new CellProblem(`--number ${column}: "${cell.trim()}" is not a number${/,\d{1,2}$/.test(text) ? hint : ""}`);
  }
  const value = Number(text.split(group).join("").replace(mark, "."));
  return negative ? -value : value;
}

/** How {@link timestampCell} reads a cell: the mapping's `timestampFormat` and `timezone`. */
export type TimestampReading = Pick<CsvMapping, "timestampFormat" | "timezone">;

/**
 * A timestamp cell as the wire wants it: epoch seconds (10 digits) or milliseconds (13 digits) become ISO-8601,
 * anything else is passed on for validation to judge (a time without a zone is read as UTC by the server). With a
 * `timestampFormat` the cell must match it (else {@link CellProblem}); with a `timezone`, a time written without a
 * zone is a time in that zone. Either way the result is ISO-8601 in UTC.
 *
 * @example timestampCell("1709287200") // "2024-03-01T10:00:00.000Z"
 * @example timestampCell("01.03.2024 11:00", { timestampFormat: "dd.MM.yyyy HH:mm", timezone: "Europe/Berlin" })
 * // "2024-03-01T10:00:00.000Z"
 */
export function timestampCell(cell: string, reading: TimestampReading = {}): string | undefined {
  const text = cell.trim();
  if (text === "") return undefined;
  const zone = reading.timezone ?? "UTC";
  if (reading.timestampFormat !== undefined) {
    const parsed = DateTime.fromFormat(text, reading.timestampFormat, { zone });
    if (!parsed.isValid) {
      throw new CellProblem(`timestamp "${text}" does not match --timestamp-format "${reading.timestampFormat}"`);
    }
    return parsed.toUTC().toISO() as string;
  }
  if (/^\d{10}$/.test(text)) return new Date(Number(text) * 1000).toISOString();
  if (/^\d{13}$/.test(text)) return new Date(Number(text)).toISOString();
  if (reading.timezone === undefined) return text;
  // ISO-8601 (`T` or a space between date and time); an offset or `Z` in the text wins over the zone.
  const parsed = DateTime.fromISO(text.replace(/^(\d{4}-\d\d-\d\d) (?=\d)/, "$1T"), { zone });
  return parsed.isValid ? (parsed.toUTC().toISO() as string) : text;
}

/** The columns a mapping names, by the flag that names them (for error messages). */
function mappedColumns(mapping: CsvMapping): Array<[flag: string, column: string]> {
  const named: Array<[string, string | undefined]> = [
    ["--user-id", mapping.userId],
    ["--anonymous-id", mapping.anonymousId],
    ["--email", mapping.email],
    ["--phone", mapping.phone],
    ["--timestamp", mapping.timestamp],
    ["--message-id", mapping.messageId],
    ...Object.entries(mapping.externalIds ?? {}).map(([type, column]): [string, string] => [
      `--external-id ${type}`,
      column,
    ]),
  ];
  return named.filter((entry): entry is [string, string] => entry[1] !== undefined);
}

/**
 * Why a header cannot be mapped, or null: a column named twice, or a flag naming a column the file lacks.
 * Checked once, before the first row, so a typo stops the import instead of rejecting every row.
 */
export function headerProblem(header: readonly string[], mapping: CsvMapping): string | null {
  const seen = new Set<string>();
  for (const column of header) {
    // An unnamed column is left out (see `unnamedColumns`), not a problem.
    if (column === "") continue;
    if (seen.has(column)) return `the header names column "${column}" twice`;
    seen.add(column);
  }
  const listed = [...seen].map((c) => `"${c}"`).join(", ");
  for (const [flag, column] of mappedColumns(mapping)) {
    if (!seen.has(column)) return `${flag} "${column}": the file has no such column (its columns: ${listed})`;
  }
  const listedBy: Array<[string, string[]]> = [
    ["--string", mapping.strings],
    ["--number", mapping.numbers ?? []],
    ["--ignore", mapping.ignore],
    ['"rename"', Object.keys(mapping.rename)],
  ];
  for (const [flag, columns] of listedBy) {
    const missing = columns.find((column) => !seen.has(column));
    if (missing !== undefined) return `${flag} "${missing}": the file has no such column (its columns: ${listed})`;
  }
  return setClash([...seen], mapping) ?? identityClash([...seen], mapping);
}

/**
 * The name a column's cell is sent under: its `rename`, or its own. Only the mapping's own keys count: a column named
 * `constructor` or `__proto__` is no inherited property of the rename object.
 */
function fieldName(mapping: CsvMapping, column: string): string {
  return Object.hasOwn(mapping.rename, column) ? mapping.rename[column] : column;
}

/** The columns that do not become properties (track) or traits (identify): mapped to a flag, or left out. */
function usedColumns(mapping: CsvMapping): Set<string> {
  return new Set([...mappedColumns(mapping).map(([, column]) => column), ...mapping.ignore]);
}

/** The columns that become properties (track) or traits (identify). */
function fieldColumns(columns: readonly string[], mapping: CsvMapping): string[] {
  const used = usedColumns(mapping);
  return columns.filter((column) => !used.has(column));
}

/** A column as `--ignore` takes it in a shell. */
const ignoreWord = (column: string): string => (/^[\w.-]+$/.test(column) ? column : JSON.stringify(column));

/**
 * Why a `--set` constant clashes with what a column fills, or null. The constant would replace the column's value on
 * every row without a word (`--set channel=pos` over a `channel` column holding `web`): refused before anything is
 * sent, so the operator chooses — `--ignore` the column to send the constant, or drop the constant.
 */
function setClash(columns: readonly string[], mapping: CsvMapping): string | null {
  const kind = mapping.as === "track" ? "property" : "trait";
  const clash = (key: string, what: string, remedy: string) =>
    `--set ${key}: ${what} fills that ${kind} too, and the constant would replace every row's value; ${remedy}`;
  const fields = fieldColumns(columns, mapping);
  for (const key of Object.keys(mapping.set)) {
    const column = fields.find((c) => fieldName(mapping, c) === key);
    if (column !== undefined) {
      const renamed = column === key ? "" : ` (renamed "${key}")`;
      return clash(
        key,
        `the file's column "${column}"${renamed}`,
        `--ignore ${ignoreWord(column)} to send the constant, or leave out --set ${key}`,
      );
    }
    // On identify rows the email and phone columns are traits too (on track rows they go to context.traits).
    const identity = key === "email" ? mapping.email : key === "phone" ? mapping.phone : undefined;
    if (mapping.as === "identify" && identity !== undefined)
      return clash(key, `--${key} "${identity}"`, `leave out --set ${key} or --${key}`);
  }
  return null;
}

/**
 * Why a column clashes with `--email` or `--phone` on identify rows, or null. Both are sent as the traits `email` and
 * `phone`, which identity resolution links by; a column that fills the same trait (an `email` column beside
 * `--email work_email`, or one renamed `email`) would replace the mapped value on every row without a word, and link
 * each profile by the wrong address. Refused before anything is sent, so the operator chooses which one is meant.
 */
function identityClash(columns: readonly string[], mapping: CsvMapping): string | null {
  if (mapping.as !== "identify") return null;
  const fields = fieldColumns(columns, mapping);
  for (const [key, mapped] of [
    ["email", mapping.email],
    ["phone", mapping.phone],
  ] as const) {
    if (mapped === undefined) continue;
    const column = fields.find((c) => fieldName(mapping, c) === key);
    if (column === undefined) continue;
    const renamed = column === key ? "" : ` (renamed "${key}")`;
    return (
      `--${key} ${ignoreWord(mapped)}: the file's column "${column}"${renamed} fills the trait ${key} too, and would ` +
      `replace the --${key} column's value on every row; --ignore ${ignoreWord(column)} to send "${mapped}" as the ` +
      `${key}, or send the column under another name with --map ("rename": {${JSON.stringify(column)}: "other_${key}"})`
    );
  }
  return null;
}

/**
 * The positions (from 1) of the columns the header leaves unnamed: most often one after a separator that ends every
 * line (`a;b;`). Their cells cannot become a property without a name, so they are left out, and the CLI says so.
 *
 * @example unnamedColumns(["id", "name", ""]) // [3]
 */
export function unnamedColumns(header: readonly string[]): number[] {
  return header.flatMap((column, i) => (column === "" ? [i + 1] : []));
}

/**
 * The cell of `column` in `record`, or undefined when the row has none (a short row). Only the record's own keys: a
 * column named `constructor` that the row lacks is not the function every object inherits.
 *
 * @example cellOf({ id: "1" }, "constructor") // undefined
 */
export function cellOf(record: Readonly<Record<string, string>>, column: string): string | undefined {
  return Object.hasOwn(record, column) ? record[column] : undefined;
}

/** An id-like cell: trimmed text, or undefined when empty. */
function textCell(record: Readonly<Record<string, string>>, column: string | undefined): string | undefined {
  if (column === undefined) return undefined;
  const text = (cellOf(record, column) ?? "").trim();
  return text === "" ? undefined : text;
}

/**
 * The message for one CSV record (column → cell). `fallbackId` gives the messageId when no column is mapped to it (a
 * function: hashing every row costs when the file has its own ids). A mapped messageId column whose cell is empty
 * throws {@link CellProblem} rather than falling back to the hash: the hash covers the file's name, so the row would
 * be stored again from a re-export or a renamed copy, which is what mapping an id column is meant to prevent.
 * Validation is not done here: the result goes through `validateMessage` like any other message. A timestamp that
 * does not match the mapping's `timestampFormat`, or a mapped timestamp cell that is empty, throws {@link CellProblem}.
 *
 * @example
 * mapCsvRow({ receipt: "R1", email: "a@b.co", total: "12.50" }, { as: "track", event: "Order Completed",
 *   anonymousId: "receipt", email: "email", set: { channel: "pos" }, strings: [], ignore: [], rename: {} }, () => "imp-1")
 * // { type: "track", event: "Order Completed", anonymousId: "R1", messageId: "imp-1",
 * //   properties: { total: 12.5, channel: "pos" }, context: { traits: { email: "a@b.co" } } }
 */
export function mapCsvRow(
  record: Readonly<Record<string, string>>,
  mapping: CsvMapping,
  fallbackId: () => string,
): Record<string, unknown> {
  const used = usedColumns(mapping);
  const strings = new Set(mapping.strings);
  const numbers = new Set(mapping.numbers);
  const typed = mapping.decimalComma ? typedCellDecimalComma : typedCell;
  const ownId = textCell(record, mapping.messageId);
  if (mapping.messageId !== undefined && ownId === undefined)
    throw new CellProblem(`--message-id column "${mapping.messageId}" is empty`);
  const cells: Array<[string, JsonValue]> = [];
  for (const [column, cell] of Object.entries(record)) {
    if (used.has(column)) continue;
    const value = strings.has(column)
      ? textCell(record, column)
      : numbers.has(column)
        ? numberCell(cell, mapping.decimalComma === true, column)
        : typed(cell);
    if (value !== undefined) cells.push([fieldName(mapping, column), value]);
  }
  // Defined, not assigned: assigning a column named `__proto__` would set the object's prototype and lose the cell.
  const fields: JsonObject = { ...Object.fromEntries(cells), ...mapping.set };

  const identity: JsonObject = {};
  const email = textCell(record, mapping.email);
  const phone = textCell(record, mapping.phone);
  if (email !== undefined) identity.email = email;
  if (phone !== undefined) identity.phone = phone;

  const externalIds: Array<JsonObject & { id: string; type: string }> = [];
  for (const [type, column] of Object.entries(mapping.externalIds ?? {})) {
    const id = textCell(record, column);
    if (id !== undefined) externalIds.push({ id, type, collection: "users", encoding: "none" });
  }

  const message: Record<string, unknown> = { type: mapping.as };
  if (mapping.as === "track") message.event = mapping.event;
  const userId = textCell(record, mapping.userId);
  const anonymousId = textCell(record, mapping.anonymousId);
  if (userId !== undefined) message.userId = userId;
  if (anonymousId !== undefined) message.anonymousId = anonymousId;
  // A message needs userId or anonymousId; a row known only by, say, its loyalty card gets an anonymousId made
  // from that id, the same on every row of the card, so the rows of one customer share one identifier, not one each.
  // Never from a value identity resolution refuses (a till's placeholder customer `0`): blocked as a card, it would
  // still link every walk-in sale into one profile as the anonymousId `pos_customer:0`. Such a row is refused.
  else if (userId === undefined && externalIds.length > 0) {
    const refused = externalIds.map(refusedExternalId);
    const usable = externalIds.find((_, i) => refused[i] === null);
    if (usable === undefined)
      throw new CellProblem(
        `no usable identifier to send the row by (${refused.map((r) => r && refusedText(r)).join("; ")}; ` +
          "an anonymousId made of a blocked value would join every row that has it into one profile)",
      );
    message.anonymousId = `${usable.type}:${usable.id}`;
  }
  message.messageId = ownId ?? fallbackId();
  if (mapping.timestamp !== undefined) {
    const timestamp = timestampCell(cellOf(record, mapping.timestamp) ?? "", mapping);
    // Without one the collector dates the row at the import: last year's purchase would count as this month's.
    if (timestamp === undefined)
      throw new CellProblem(
        `--timestamp column "${mapping.timestamp}" is empty (the row would be dated at the import, not when it happened)`,
      );
    message.timestamp = timestamp;
  }
  const context: JsonObject = {};
  if (mapping.as === "track") {
    message.properties = fields;
    // Identity resolution reads a track's email and phone from context.traits (DESIGN §4).
    if (Object.keys(identity).length > 0) context.traits = identity;
  } else {
    // Identity first to read, and last to win: `headerProblem` refuses a column that fills email or phone too, and
    // should one get past it, the mapped identifier is still the one identity resolution links by.
    message.traits = { ...identity, ...fields, ...identity };
  }
  if (externalIds.length > 0) context.externalIds = externalIds;
  if (Object.keys(context).length > 0) message.context = context;
  return message;
}
