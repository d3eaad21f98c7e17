import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_BATCH_ROWS, type ImportOptions, parseImportArgs } from "./args";

const connection = ["--host", "http://localhost:8787/", "--write-key", "wk_dev"];

function options(argv: string[], env: Record<string, string> = {}): ImportOptions {
  const parsed = parseImportArgs(argv, env);
  if (parsed.kind !== "run") throw new Error(`expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

function error(argv: string[], env: Record<string, string> = {}): string {
  const parsed = parseImportArgs(argv, env);
  if (parsed.kind !== "error") throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  return parsed.error;
}

describe("parseImportArgs", () => {
  it("reads a CSV mapping from flags, typing --set values like cells", () => {
    const parsed = options([
      "sales.csv.gz",
      ...connection,
      "--event",
      "Order Completed",
      "--user-id",
      "customer_id",
      "--email",
      "email",
      "--set",
      "channel=pos",
      "--set",
      "store=0042",
      "--set",
      "vip=true",
      "--string",
      "sku",
      "--concurrency",
      "8",
    ]);
    expect(parsed).toEqual({
      file: "sales.csv.gz",
      format: "csv",
      host: "http://localhost:8787",
      writeKey: "wk_dev",
      mapping: {
        as: "track",
        event: "Order Completed",
        userId: "customer_id",
        email: "email",
        set: { channel: "pos", store: "0042", vip: true },
        strings: ["sku"],
        ignore: [],
        rename: {},
      },
      concurrency: 8,
      batchSize: DEFAULT_BATCH_ROWS,
      resume: false,
      dryRun: false,
      allowRejects: false,
    });
  });

  it("takes the format from the name (.gz ignored) or --format, and NDJSON has no mapping", () => {
    expect(options(["events.jsonl", ...connection]).format).toBe("ndjson");
    expect(options(["events.NDJSON.gz", ...connection]).format).toBe("ndjson");
    expect(options(["dump.json", ...connection])).toMatchObject({ format: "json", mapping: null, concurrency: 4 });
    expect(options(["-", "--format", "ndjson", ...connection]).file).toBe("-");
  });

  it("takes a text encoding for any format, by its canonical name, and refuses one it cannot decode", () => {
    expect(options(["events.ndjson", ...connection]).encoding).toBeUndefined();
    expect(options(["events.ndjson", ...connection, "--encoding", "Latin1"]).encoding).toBe("windows-1252");
    expect(options(["events.ndjson", ...connection, "--encoding", "UTF-16LE"]).encoding).toBe("utf-16le");
    expect(error(["events.ndjson", ...connection, "--encoding", "ebcdic"])).toBe(
      "--encoding ebcdic: not a text encoding (e.g. utf-8, windows-1252, iso-8859-15, utf-16le)",
    );
  });

  it("merges a --map file under the flags", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-args-"));
    const map = path.join(dir, "mapping.json");
    writeFileSync(
      map,
      JSON.stringify({
        as: "identify",
        "user-id": "id",
        email: "mail",
        set: { source: "crm" },
        rename: { Name: "name" },
      }),
    );
    const parsed = options(["people.csv", ...connection, "--map", map, "--email", "email_address"]);
    expect(parsed.mapping).toEqual({
      as: "identify",
      event: undefined,
      userId: "id",
      email: "email_address",
      set: { source: "crm" },
      strings: [],
      ignore: [],
      rename: { Name: "name" },
    });
  });

  it("takes external ids as type=column from flags or the --map file, enough as a row's only id", () => {
    const csv = (...more: string[]) => options(["pos.csv", ...connection, "--event", "Sale", ...more]);
    expect(csv("--external-id", "Loyalty_Number=card no ").mapping).toMatchObject({
      externalIds: { loyalty_number: "card no" },
    });
    expect(csv("--user-id", "id").mapping).not.toHaveProperty("externalIds");

    const dir = mkdtempSync(path.join(tmpdir(), "tessera-args-"));
    const map = path.join(dir, "mapping.json");
    writeFileSync(map, JSON.stringify({ externalIds: { loyalty_number: "card", crm_id: "crm" } }));
    expect(csv("--map", map, "--external-id", "crm_id=record").mapping?.externalIds).toEqual({
      loyalty_number: "card",
      crm_id: "record",
    });

    const refused = (...more: string[]) => error(["pos.csv", ...connection, "--event", "Sale", ...more]);
    expect(refused("--external-id", "card")).toBe(
      "--external-id card: expected type=column, e.g. --external-id loyalty_number=card_no",
    );
    expect(refused("--external-id", "email=mail")).toBe("--external-id email=mail: use --email mail");
    expect(refused("--external-id", "group_id=company")).toMatch(/never a matching key/);
    expect(refused("--external-id", "loyalty-no=card")).toMatch(/lowercase letters, digits and _/);
    // Names of built-in object properties are types like any other word, not entries of a table of flags.
    expect(refused("--external-id", "__proto__=card")).toMatch(/lowercase letters, digits and _/);
    expect(csv("--external-id", "constructor=card").mapping?.externalIds).toEqual({ constructor: "card" });
    expect(refused("--delimiter", "constructor")).toBe(
      '--delimiter "constructor": expected one character, e.g. , ; tab |',
    );
    expect(JSON.stringify(csv("--user-id", "id", "--set", "__proto__=pos").mapping?.set)).toBe('{"__proto__":"pos"}');
    expect(refused()).toBe(
      "CSV rows need an id column: --user-id <column>, --anonymous-id <column> or --external-id <type>=<column>",
    );
    // An email-only export: the one combination the collector takes is named, with the file's own column.
    expect(refused("--email", "E-mail Address")).toBe(
      '--email "E-mail Address" is not enough on its own: every message needs a userId or anonymousId. When the ' +
        'email is the file\'s only id, send it as the anonymous id too: --anonymous-id "E-mail Address" --email "E-mail Address"',
    );
    expect(refused("--phone", "mobile")).toMatch(/--anonymous-id mobile --phone mobile$/);
    expect(csv("--anonymous-id", "mail", "--email", "mail").mapping).toMatchObject({
      anonymousId: "mail",
      email: "mail",
    });
    writeFileSync(map, JSON.stringify({ externalIds: { loyalty_number: 7 } }));
    expect(refused("--map", map)).toMatch(/"externalIds" must hold column names/);
  });

  it("takes a column separator and a decimal comma from flags or the --map file, and reads .tsv as CSV", () => {
    const csv = (...more: string[]) => options(["a.csv", ...connection, "--event", "E", "--user-id", "id", ...more]);
    expect(csv().mapping).not.toHaveProperty("delimiter");
    expect(csv().mapping).not.toHaveProperty("decimalComma");
    expect(csv("--delimiter", ";").mapping).toMatchObject({ delimiter: ";" });
    expect(csv("--delimiter", "tab").mapping).toMatchObject({ delimiter: "\t" });
    expect(csv("--delimiter", "\\t").mapping).toMatchObject({ delimiter: "\t" });
    expect(csv("--decimal-comma", "--set", "fee=2,5").mapping).toMatchObject({ decimalComma: true, set: { fee: 2.5 } });
    expect(csv("--skip-lines", "3").mapping).toMatchObject({ skipLines: 3 });
    expect(csv("--number", "total", "--number", "tax").mapping).toMatchObject({ numbers: ["total", "tax"] });
    expect(csv().mapping).not.toHaveProperty("numbers");
    expect(error(["a.csv", ...connection, "--event", "E", "--user-id", "id", "--number", "z", "--string", "z"])).toBe(
      '"z" is given to both --string and --number: which is it?',
    );
    expect(csv("--skip-lines", "0").mapping).not.toHaveProperty("skipLines");
    expect(error(["a.csv", ...connection, "--event", "E", "--user-id", "id", "--skip-lines", "2.5"])).toBe(
      "--skip-lines 2.5: expected a whole number of lines from 0 to 1000",
    );
    expect(options(["people.tsv", ...connection, "--as", "identify", "--user-id", "id"]).format).toBe("csv");

    const dir = mkdtempSync(path.join(tmpdir(), "tessera-args-"));
    const map = path.join(dir, "mapping.json");
    writeFileSync(map, JSON.stringify({ delimiter: "|", decimalComma: true, skipLines: 2 }));
    expect(csv("--map", map).mapping).toMatchObject({ delimiter: "|", decimalComma: true, skipLines: 2 });
    expect(csv("--map", map, "--delimiter", ",").mapping).toMatchObject({ delimiter: "," });

    expect(error(["a.csv", ...connection, "--event", "E", "--user-id", "id", "--delimiter", ";;"])).toBe(
      '--delimiter ";;": expected one character, e.g. , ; tab |',
    );
    expect(error(["a.csv", ...connection, "--event", "E", "--user-id", "id", "--delimiter", '"'])).toMatch(
      /expected one character/,
    );
    // `t` for tab is the likely slip: a letter or digit would split names and numbers apart.
    expect(error(["a.csv", ...connection, "--event", "E", "--user-id", "id", "--delimiter", "t"])).toBe(
      '--delimiter "t": a letter or digit would split names and numbers; expected e.g. , ; tab |',
    );
    expect(error(["a.ndjson", ...connection, "--delimiter", ";"])).toBe(
      "--delimiter maps CSV columns; ndjson messages are sent as they are",
    );
    writeFileSync(map, JSON.stringify({ decimalComma: "yes" }));
    expect(error(["a.csv", ...connection, "--event", "E", "--user-id", "id", "--map", map])).toMatch(
      /"decimalComma" must be a boolean/,
    );
  });

  it("takes a timestamp format and time zone from flags or the --map file, and checks them", () => {
    const base = ["a.csv", ...connection, "--event", "E", "--user-id", "id"];
    expect(
      options([...base, "--timestamp", "at", "--timestamp-format", "dd.MM.yyyy HH:mm", "--timezone", "Europe/Berlin"])
        .mapping,
    ).toMatchObject({ timestamp: "at", timestampFormat: "dd.MM.yyyy HH:mm", timezone: "Europe/Berlin" });
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-args-"));
    const map = path.join(dir, "mapping.json");
    writeFileSync(
      map,
      JSON.stringify({ timestamp: "at", "timestamp-format": "M/d/yyyy", timezone: "America/Chicago" }),
    );
    expect(options([...base, "--map", map]).mapping).toMatchObject({
      timestampFormat: "M/d/yyyy",
      timezone: "America/Chicago",
    });

    expect(error([...base, "--timestamp", "at", "--timezone", "Europe/Berln"])).toBe(
      "--timezone Europe/Berln: not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)",
    );
    expect(error([...base, "--timestamp-format", "dd.MM.yyyy"])).toBe(
      "--timestamp-format reads the timestamp column: name it with --timestamp <column>",
    );
    expect(error([...base, "--timezone", "UTC"])).toMatch(/^--timezone reads the timestamp column/);
  });

  it("reads host and write key from the environment when the flags are left out", () => {
    const parsed = options(["events.ndjson"], { TESSERA_HOST: "https://t.example.com", TESSERA_WRITE_KEY: "wk_env" });
    expect(parsed).toMatchObject({ host: "https://t.example.com", writeKey: "wk_env" });
  });

  it("needs no host or key for a dry run", () => {
    expect(options(["events.ndjson", "--dry-run"])).toMatchObject({ dryRun: true, host: undefined });
  });

  it("says what is wrong, one problem at a time", () => {
    expect(error([...connection])).toMatch(/^which file\?/);
    expect(error(["a.csv", "b.csv", ...connection])).toBe("one file at a time (got a.csv, b.csv)");
    expect(error(["a.csv", "--bogus"])).toBe("Unknown option '--bogus'");
    expect(error(["a.csv", "--write-key", "k", "--event", "E", "--user-id", "id"])).toMatch(
      /^--host <url> is required/,
    );
    expect(error(["a.csv", "--host", "localhost:8787", "--write-key", "k"])).toMatch(/use http or https/);
    expect(error(["a.txt", ...connection])).toMatch(/cannot tell the format of a\.txt/);
    expect(error(["-", ...connection])).toMatch(/--format csv\|ndjson\|json/);
    expect(error(["a.csv", ...connection, "--user-id", "id"])).toMatch(/track rows need an event name/);
    expect(error(["a.csv", ...connection, "--event", "E"])).toMatch(/--user-id <column>, --anonymous-id <column> or/);
    expect(error(["a.csv", ...connection, "--as", "page", "--user-id", "id"])).toBe(
      "--as page: expected track or identify",
    );
    expect(error(["a.csv", ...connection, "--as", "identify", "--event", "E", "--user-id", "id"])).toMatch(
      /identify has none/,
    );
    expect(error(["a.csv", ...connection, "--event", "E", "--user-id", "id", "--set", "channel"])).toMatch(
      /expected key=value/,
    );
    // Sent as "" it would blank the trait on every row (cells that empty are left out): refused, not guessed at.
    for (const set of ["channel=", "channel=  "])
      expect(error(["a.csv", ...connection, "--event", "E", "--user-id", "id", "--set", set])).toBe(
        `--set ${set}: the value is empty (an unset shell variable?); give one, e.g. --set channel=pos, or leave the flag out`,
      );
    expect(error(["a.csv", ...connection, "--event", "E", "--user-id", "id", "--concurrency", "0"])).toMatch(/1 to 64/);
    expect(error(["a.ndjson", ...connection, "--batch-size", "2501"])).toMatch(/--batch-size 2501: .* 1 to 2500/);
    expect(options(["a.ndjson", ...connection, "--batch-size", "40"]).batchSize).toBe(40);
    expect(error(["a.ndjson", ...connection, "--user-id", "id"])).toBe(
      "--user-id maps CSV columns; ndjson messages are sent as they are",
    );
    expect(error(["-", "--format", "csv", "--resume", ...connection])).toMatch(/stdin has no checkpoint/);
  });

  it("refuses a --map file with unknown keys or wrong shapes", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-args-"));
    const write = (name: string, json: unknown) => {
      writeFileSync(path.join(dir, name), JSON.stringify(json));
      return path.join(dir, name);
    };
    const base = ["a.csv", ...connection, "--event", "E", "--user-id", "id", "--map"];
    expect(error([...base, write("typo.json", { userid: "id" })])).toMatch(/unknown key "userid"/);
    expect(error([...base, write("shape.json", { set: "channel=pos" })])).toMatch(/"set" must be an object/);
    expect(error([...base, write("blank.json", { set: { channel: "" } })])).toMatch(/"set" channel is empty/);
    expect(error([...base, path.join(dir, "missing.json")])).toMatch(/ENOENT/);
  });

  it("asks for help", () => {
    expect(parseImportArgs(["--help"], {})).toEqual({ kind: "help" });
    expect(parseImportArgs(["-h"], {})).toEqual({ kind: "help" });
  });
});
