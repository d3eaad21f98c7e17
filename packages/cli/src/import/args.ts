/**
 * `tessera import` arguments → {@link ImportOptions}, or the first problem in words an operator can act on.
 * Pure apart from reading the `--map` file.
 */
import { readFileSync } from "node:fs";
import { parseArgs, TextDecoder } from "node:util";
import { IDENTIFIER_TYPE_PATTERN, type JsonValue, MAX_BATCH_MESSAGES } from "@tessera/protocol";
import { IANAZone } from "luxon";
import { type CsvMapping, cellTyping } from "./map-row";
import { DELIMITERS, type InputFormat } from "./read";

/** Everything an import run needs to know. */
export interface ImportOptions {
  /** A path, or `-` for stdin. */
  file: string;
  format: InputFormat;
  /**
   * The file's text encoding (a WHATWG label, e.g. `windows-1252`); undefined: UTF-8, or UTF-16 by its byte-order mark.
   * Not part of the checkpoint's fingerprint: a file that stopped at its first non-UTF-8 line resumes with the right one.
   */
  encoding?: string;
  /** Base URL without a trailing slash; absent only for `--dry-run`. */
  host?: string;
  writeKey?: string;
  /** How CSV rows become messages; null for JSON input. */
  mapping: CsvMapping | null;
  /** Where rejected rows go (default `<file>.rejects.ndjson`). */
  rejects?: string;
  /**
   * The name hashed into each row's messageId in place of the file's (`--source-name`): stdin's rows hash as the file
   * they came from, so the same rows imported either way are stored once.
   */
  sourceName?: string;
  concurrency: number;
  /** Rows per batch at most (bytes are bounded by the collector's request limit besides). */
  batchSize: number;
  resume: boolean;
  dryRun: boolean;
  allowRejects: boolean;
}

export type ParsedImportArgs =
  | { kind: "help" }
  | { kind: "error"; error: string }
  | { kind: "run"; options: ImportOptions };

export const DEFAULT_CONCURRENCY = 4;
const MAX_CONCURRENCY = 64;
/**
 * Rows per batch by default: far below the collector's 2,500 messages, because the rows of an export are mostly
 * people the collector has never seen, and each new person costs it a new profile; a request of 2,500 of them ran
 * past the collector's deadline (answered 429, then retried) on a busy machine, while 250 finish in a few seconds.
 * The collector's cost per request besides is small, so smaller batches cost little throughput.
 */
export const DEFAULT_BATCH_ROWS = 250;

/** A report's title block is a few lines; more is a mistake (a row count given instead of a line count). */
const MAX_SKIP_LINES = 1_000;

const COLUMN_FLAGS = {
  "user-id": "userId",
  "anonymous-id": "anonymousId",
  email: "email",
  phone: "phone",
  timestamp: "timestamp",
  "message-id": "messageId",
} as const;
const CSV_FLAGS = [
  "as",
  "event",
  ...Object.keys(COLUMN_FLAGS),
  "set",
  "string",
  "number",
  "ignore",
  "external-id",
  "map",
  "delimiter",
  "skip-lines",
  "decimal-comma",
  "timestamp-format",
  "timezone",
];
const MAP_KEYS = [
  "as",
  "event",
  ...Object.values(COLUMN_FLAGS),
  "set",
  "string",
  "number",
  "ignore",
  "rename",
  "externalIds",
  "delimiter",
  "skipLines",
  "decimalComma",
  "timestampFormat",
  "timezone",
];

const FORMATS: Record<string, InputFormat> = {
  csv: "csv",
  tsv: "csv",
  ndjson: "ndjson",
  jsonl: "ndjson",
  json: "json",
};

/** The flags' spellings a `--map` file may use for keys that are not column flags. */
const MAP_FILE_ALIASES: Record<string, string> = {
  "decimal-comma": "decimalComma",
  "timestamp-format": "timestampFormat",
  "external-ids": "externalIds",
  "skip-lines": "skipLines",
};

/** Identifier types with flags of their own, and one that never links people (DESIGN §4). */
const NOT_EXTERNAL: Record<string, (column: string) => string> = {
  user_id: (column) => `use --user-id ${column}`,
  anonymous_id: (column) => `use --anonymous-id ${column}`,
  email: (column) => `use --email ${column}`,
  phone: (column) => `use --phone ${column}`,
  group_id: () => "a group id is an attribute, never a matching key",
};

/** `--delimiter` words for what is awkward to type in a shell. */
const DELIMITER_WORDS: Record<string, string> = { tab: "\t", "\\t": "\t", comma: ",", semicolon: ";", pipe: "|" };

const OPTIONS = {
  host: { type: "string" },
  "write-key": { type: "string" },
  format: { type: "string" },
  encoding: { type: "string" },
  as: { type: "string" },
  event: { type: "string" },
  ...Object.fromEntries(Object.keys(COLUMN_FLAGS).map((flag) => [flag, { type: "string" }])),
  set: { type: "string", multiple: true },
  string: { type: "string", multiple: true },
  number: { type: "string", multiple: true },
  ignore: { type: "string", multiple: true },
  "external-id": { type: "string", multiple: true },
  map: { type: "string" },
  delimiter: { type: "string" },
  "skip-lines": { type: "string" },
  "decimal-comma": { type: "boolean" },
  "timestamp-format": { type: "string" },
  timezone: { type: "string" },
  rejects: { type: "string" },
  "source-name": { type: "string" },
  concurrency: { type: "string" },
  "batch-size": { type: "string" },
  resume: { type: "boolean" },
  "dry-run": { type: "boolean" },
  "allow-rejects": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

class ArgsError extends Error {}

/**
 * Parses `argv` (the words after `import`). `env` supplies `TESSERA_HOST` and `TESSERA_WRITE_KEY` when the flags
 * are left out, so a key need not appear in the process list.
 *
 * @example parseImportArgs(["orders.csv", "--host", "http://localhost:8787", "--write-key", "wk_dev",
 *   "--event", "Order Completed", "--user-id", "customer_id"], {})
 */
export function parseImportArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedImportArgs {
  try {
    return readArgs(argv, env);
  } catch (err) {
    if (err instanceof ArgsError) return { kind: "error", error: err.message };
    throw err;
  }
}

function readArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedImportArgs {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    // Node's first sentence is the useful one ("Unknown option '--foo'").
    throw new ArgsError((err as Error).message.split(". ")[0]);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (positionals.length === 0) throw new ArgsError("which file? tessera import <file> --host <url> --write-key <key>");
  if (positionals.length > 1) throw new ArgsError(`one file at a time (got ${positionals.join(", ")})`);
  const file = positionals[0];
  const format = formatOf(file, values.format as string | undefined);
  const dryRun = values["dry-run"] === true;
  const resume = values.resume === true;
  if (resume && file === "-") throw new ArgsError("--resume needs a file: stdin has no checkpoint");

  const host = (values.host as string | undefined) ?? env.TESSERA_HOST;
  const writeKey = (values["write-key"] as string | undefined) ?? env.TESSERA_WRITE_KEY;
  if (!dryRun && !host)
    throw new ArgsError("--host <url> is required (or TESSERA_HOST), e.g. --host http://localhost:8787");
  if (!dryRun && !writeKey) throw new ArgsError("--write-key <key> is required (or TESSERA_WRITE_KEY)");
  const base = host === undefined ? undefined : baseUrl(host);
  const encoding = encodingOf(values.encoding as string | undefined);

  let mapping: CsvMapping | null = null;
  if (format === "csv") mapping = csvMapping(values);
  else {
    const flag = CSV_FLAGS.find((name) => values[name] !== undefined);
    if (flag) throw new ArgsError(`--${flag} maps CSV columns; ${format} messages are sent as they are`);
  }
  return {
    kind: "run",
    options: {
      file,
      format,
      encoding,
      host: base,
      writeKey,
      mapping,
      rejects: values.rejects as string | undefined,
      sourceName: sourceNameFlag(values["source-name"] as string | undefined),
      concurrency: concurrencyOf(values.concurrency as string | undefined),
      batchSize: batchSizeOf(values["batch-size"] as string | undefined),
      resume,
      dryRun,
      allowRejects: values["allow-rejects"] === true,
    },
  };
}

function sourceNameFlag(flag: string | undefined): string | undefined {
  if (flag !== undefined && flag.trim() === "")
    throw new ArgsError("--source-name needs a name, e.g. --source-name orders.csv (the file the rows come from)");
  return flag;
}

function formatOf(file: string, flag: string | undefined): InputFormat {
  if (flag !== undefined) {
    const format = FORMATS[flag.toLowerCase()];
    if (!format) throw new ArgsError(`--format ${flag}: expected csv, ndjson or json`);
    return format;
  }
  if (file === "-") throw new ArgsError("reading stdin: say what it holds with --format csv|ndjson|json");
  const extension = /\.([a-z]+)$/i.exec(file.replace(/\.gz$/i, ""))?.[1]?.toLowerCase();
  const format = extension ? FORMATS[extension] : undefined;
  if (!format) throw new ArgsError(`cannot tell the format of ${file} (.csv, .ndjson, .jsonl, .json): use --format`);
  return format;
}

/** `--encoding`: a label this Node can decode (its canonical name), e.g. `latin1` → `windows-1252`. */
function encodingOf(label: string | undefined): string | undefined {
  if (label === undefined) return undefined;
  try {
    return new TextDecoder(label).encoding;
  } catch {
    throw new ArgsError(`--encoding ${label}: not a text encoding (e.g. utf-8, windows-1252, iso-8859-15, utf-16le)`);
  }
}

function baseUrl(host: string): string {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new ArgsError(`--host ${host}: not a URL (expected e.g. https://tessera.example.com)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ArgsError(`--host ${host}: use http or https (e.g. http://${host.replace(/^[a-z]+:\/\//i, "")})`);
  }
  return host.replace(/\/+$/, "");
}

function concurrencyOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CONCURRENCY;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) {
    throw new ArgsError(`--concurrency ${text}: expected a whole number from 1 to ${MAX_CONCURRENCY}`);
  }
  return n;
}

function batchSizeOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_BATCH_ROWS;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH_MESSAGES) {
    throw new ArgsError(`--batch-size ${text}: expected a whole number of rows from 1 to ${MAX_BATCH_MESSAGES}`);
  }
  return n;
}

/** The mapping: the `--map` file first, flags over it. */
function csvMapping(values: Values): CsvMapping {
  const file = values.map === undefined ? {} : readMapFile(values.map as string);
  const pick = (flag: string, key: keyof MapFileFields): string | undefined =>
    (values[flag] as string | undefined) ?? (file[key] as string | undefined);
  const as = pick("as", "as") ?? "track";
  if (as !== "track" && as !== "identify") throw new ArgsError(`--as ${as}: expected track or identify`);
  const event = pick("event", "event");
  if (as === "track" && (event === undefined || event.trim() === "")) {
    throw new ArgsError('track rows need an event name: --event "Order Completed" (or --as identify)');
  }
  if (as === "identify" && event !== undefined) throw new ArgsError("--event names track events; identify has none");
  const decimalComma = values["decimal-comma"] === true || file.decimalComma === true;
  const mapping: CsvMapping = {
    as,
    event: as === "track" ? event : undefined,
    set: { ...(file.set ?? {}), ...setValues((values.set as string[] | undefined) ?? [], decimalComma) },
    strings: [...(file.string ?? []), ...((values.string as string[] | undefined) ?? [])],
    ignore: [...(file.ignore ?? []), ...((values.ignore as string[] | undefined) ?? [])],
    rename: file.rename ?? {},
  };
  const numbers = [...(file.number ?? []), ...((values.number as string[] | undefined) ?? [])];
  const both = numbers.find((column) => mapping.strings.includes(column));
  if (both !== undefined) throw new ArgsError(`"${both}" is given to both --string and --number: which is it?`);
  if (numbers.length > 0) mapping.numbers = numbers;
  const externalIds = externalIdColumns(file.externalIds ?? {}, (values["external-id"] as string[] | undefined) ?? []);
  if (Object.keys(externalIds).length > 0) mapping.externalIds = externalIds;
  const delimiter = pick("delimiter", "delimiter");
  if (delimiter !== undefined) mapping.delimiter = delimiterFlag(delimiter);
  const skipLines = skipLinesOf((values["skip-lines"] as string | undefined) ?? file.skipLines);
  if (skipLines > 0) mapping.skipLines = skipLines;
  if (decimalComma) mapping.decimalComma = true;
  const timestampFormat = pick("timestamp-format", "timestampFormat");
  if (timestampFormat !== undefined) mapping.timestampFormat = timestampFormat;
  const timezone = pick("timezone", "timezone");
  if (timezone !== undefined) {
    if (!IANAZone.isValidZone(timezone))
      throw new ArgsError(`--timezone ${timezone}: not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`);
    mapping.timezone = timezone;
  }
  for (const [flag, key] of Object.entries(COLUMN_FLAGS)) {
    const column = pick(flag, key);
    if (column !== undefined) mapping[key] = column.trim();
  }
  if ((timestampFormat !== undefined || timezone !== undefined) && mapping.timestamp === undefined) {
    const flag = timestampFormat !== undefined ? "--timestamp-format" : "--timezone";
    throw new ArgsError(`${flag} reads the timestamp column: name it with --timestamp <column>`);
  }
  if (mapping.userId === undefined && mapping.anonymousId === undefined && mapping.externalIds === undefined) {
    throw new ArgsError(noIdColumn(mapping));
  }
  return mapping;
}

/**
 * Why a mapping without an id column is refused, and the flags that work. An email or phone is an identifier (DESIGN
 * §4) but not a message id: the collector refuses a message without userId or anonymousId (DESIGN §3, Segment's rule),
 * so a file whose only id is the email needs that column twice, as the anonymous id and as the email.
 */
function noIdColumn(mapping: CsvMapping): string {
  const general =
    "CSV rows need an id column: --user-id <column>, --anonymous-id <column> or --external-id <type>=<column>";
  const [flag, column] = mapping.email !== undefined ? ["--email", mapping.email] : ["--phone", mapping.phone];
  if (column === undefined) return general;
  const word = shellWord(column);
  return (
    `${flag} ${word} is not enough on its own: every message needs a userId or anonymousId. ` +
    `When the ${flag.slice(2)} is the file's only id, send it as the anonymous id too: --anonymous-id ${word} ${flag} ${word}`
  );
}

/** A column name as typed in a shell: bare when that is safe, quoted otherwise. */
function shellWord(column: string): string {
  return /^[\w.@-]+$/.test(column) ? column : JSON.stringify(column);
}

/**
 * Identifier type → column, from the `--map` file's `externalIds` and `--external-id type=column` flags (which win),
 * each type checked as identity resolution will read it (lowercased).
 */
function externalIdColumns(fromFile: Record<string, string>, pairs: readonly string[]): Record<string, string> {
  const entries: Array<[string, string, string]> = Object.entries(fromFile).map(([type, column]) => [
    `"externalIds" ${type}`,
    type,
    column,
  ]);
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0 || at === pair.length - 1)
      throw new ArgsError(`--external-id ${pair}: expected type=column, e.g. --external-id loyalty_number=card_no`);
    entries.push([`--external-id ${pair}`, pair.slice(0, at), pair.slice(at + 1)]);
  }
  const columns: Record<string, string> = {};
  for (const [said, rawType, column] of entries) {
    const type = rawType.trim().toLowerCase();
    // Own keys only: a type such as `__proto__` or `constructor` is no inherited property of the table.
    if (Object.hasOwn(NOT_EXTERNAL, type))
      throw new ArgsError(`${said}: ${NOT_EXTERNAL[type](shellWord(column.trim()))}`);
    if (!IDENTIFIER_TYPE_PATTERN.test(type))
      throw new ArgsError(`${said}: the type is a word of lowercase letters, digits and _ (e.g. loyalty_number)`);
    columns[type] = column.trim();
  }
  return columns;
}

/** `--skip-lines`: a whole number of lines, from the flag's text or the `--map` file's number. */
function skipLinesOf(given: string | number | undefined): number {
  if (given === undefined) return 0;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 0 || n > MAX_SKIP_LINES || (typeof given === "string" && given.trim() === ""))
    throw new ArgsError(`--skip-lines ${given}: expected a whole number of lines from 0 to ${MAX_SKIP_LINES}`);
  return n;
}

/**
 * `--delimiter`: one character, or a word for it (`tab`); not a letter or digit. Any other character is taken (an
 * export may use `^` or `~`); one the header does not use is named when the header is read (`run.ts`).
 */
function delimiterFlag(text: string): string {
  const word = text.toLowerCase();
  const delimiter = Object.hasOwn(DELIMITER_WORDS, word) ? DELIMITER_WORDS[word] : text;
  const known = DELIMITERS.map((d) => (d === "\t" ? "tab" : d)).join(" ");
  if ([...delimiter].length !== 1 || /["\r\n]/.test(delimiter))
    throw new ArgsError(`--delimiter ${JSON.stringify(text)}: expected one character, e.g. ${known}`);
  // Most often `t` meant for tab; no export separates columns with a letter or digit.
  if (/[\p{L}\p{N}]/u.test(delimiter))
    throw new ArgsError(
      `--delimiter ${JSON.stringify(text)}: a letter or digit would split names and numbers; expected e.g. ${known}`,
    );
  return delimiter;
}

/**
 * `--set key=value` pairs, each value typed like a cell (`store=0042` stays text, `vip=true` is a boolean). An empty
 * value is refused: a cell that empty is left out of the message, so sending "" would be the one place an import
 * blanks a trait, most often from a shell variable that was not set (`--set store=$STORE`).
 */
function setValues(pairs: readonly string[], decimalComma: boolean): Record<string, JsonValue> {
  const typed = cellTyping(decimalComma);
  const set: Array<[string, JsonValue]> = [];
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new ArgsError(`--set ${pair}: expected key=value, e.g. --set channel=pos`);
    const key = pair.slice(0, at).trim();
    const value = typed(pair.slice(at + 1));
    if (value === undefined)
      throw new ArgsError(
        `--set ${pair}: the value is empty (an unset shell variable?); give one, e.g. --set ${key}=pos, or leave the flag out`,
      );
    set.push([key, value]);
  }
  // Defined, not assigned: `--set __proto__=x` assigned would set the object's prototype and be lost.
  return Object.fromEntries(set);
}

type MapFileFields = Partial<
  Record<
    "as" | "event" | "delimiter" | "timestampFormat" | "timezone" | (typeof COLUMN_FLAGS)[keyof typeof COLUMN_FLAGS],
    string
  >
> & {
  decimalComma?: boolean;
  skipLines?: number;
  set?: Record<string, JsonValue>;
  string?: string[];
  number?: string[];
  ignore?: string[];
  rename?: Record<string, string>;
  externalIds?: Record<string, string>;
};

/**
 * The `--map` JSON: the flags' names (`userId` or `user-id`, `event`, `delimiter`, …), plus `decimalComma`
 * (boolean), `skipLines` (number), `set` (object), `string`, `number` and `ignore` (arrays of columns), `rename` (column → name)
 * and `externalIds` (identifier type → column).
 */
function readMapFile(path: string): MapFileFields {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ArgsError(`--map ${path}: ${(err as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new ArgsError(`--map ${path}: expected a JSON object`);
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(json)) {
    const key = (COLUMN_FLAGS as Record<string, string>)[rawKey] ?? MAP_FILE_ALIASES[rawKey] ?? rawKey;
    if (!MAP_KEYS.includes(key))
      throw new ArgsError(`--map ${path}: unknown key "${rawKey}" (known: ${MAP_KEYS.join(", ")})`);
    const expected =
      key === "set" || key === "rename" || key === "externalIds"
        ? "object"
        : key === "string" || key === "number" || key === "ignore"
          ? "array"
          : key === "decimalComma"
            ? "boolean"
            : key === "skipLines"
              ? "number"
              : "string";
    const actual = Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
    if (actual !== expected)
      throw new ArgsError(`--map ${path}: "${rawKey}" must be ${/^[ao]/.test(expected) ? "an" : "a"} ${expected}`);
    const texts = Array.isArray(value)
      ? value
      : key === "rename" || key === "externalIds"
        ? Object.values(value as object)
        : [];
    if (texts.some((text) => typeof text !== "string"))
      throw new ArgsError(`--map ${path}: "${rawKey}" must hold column names`);
    // As `--set key=` is refused (see `setValues`).
    const blank = key === "set" ? Object.entries(value as object).find(([, v]) => v === "" || v === null) : undefined;
    if (blank) throw new ArgsError(`--map ${path}: "set" ${blank[0]} is empty; give it a value or leave it out`);
    out[key] = value;
  }
  return out as MapFileFields;
}
