import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { parseIsoTimestamp } from "@tessera/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FakeCollector, startFakeCollector } from "../../test-support/fake-collector";
import { runCli } from "../../test-support/run-cli";

/** `tessera import` end to end against a fake collector on a real port: what is sent, what is reported. */
const POS_CSV = [
  "receipt_id,customer_id,email,phone,total,items,store,purchased_at,loyalty",
  'R-1001,C-42,jane@example.com,+14155550101,59.90,"Mug, large",0042,2024-03-01T10:15:00Z,true',
  'R-1002,C-43,bob@example.com,,12,"Tea\n(2 boxes)",0042,1709290800,false',
  "R-1003,,nobody@example.com,,5,Pen,0042,2024-03-01T12:00:00Z,false",
].join("\n");

const POS_MAPPING = [
  "--event",
  "Order Completed",
  "--user-id",
  "customer_id",
  "--email",
  "email",
  "--phone",
  "phone",
  "--timestamp",
  "purchased_at",
  "--message-id",
  "receipt_id",
  "--set",
  "channel=pos",
];

/** POS_CSV's first row as POS_MAPPING sends it. */
const FIRST_POS_MESSAGE = {
  type: "track",
  event: "Order Completed",
  userId: "C-42",
  messageId: "R-1001",
  timestamp: "2024-03-01T10:15:00Z",
  properties: { total: 59.9, items: "Mug, large", store: "0042", loyalty: true, channel: "pos" },
  context: { traits: { email: "jane@example.com", phone: "+14155550101" } },
};

/** The German till exports below: receipt (`beleg`) and customer (`kunde`) columns. */
const RECEIPT_MAPPING = ["--event", "Order Completed", "--user-id", "kunde", "--message-id", "beleg"];

let collector: FakeCollector;
let dir: string;
beforeEach(async () => {
  collector = await startFakeCollector();
  dir = mkdtempSync(path.join(tmpdir(), "tessera-import-"));
});
afterEach(async () => {
  await collector.close();
});

const connect = () => ["--host", collector.url, "--write-key", "wk_test"];
/** `tessera import <file>` against the fake collector, with `flags`. */
const importFile = (file: string, ...flags: string[]) => runCli(["import", file, ...connect(), ...flags]);
const write = (name: string, content: string | Buffer) => {
  const at = path.join(dir, name);
  writeFileSync(at, content);
  return at;
};
const readRejects = (file: string) =>
  readFileSync(`${file}.rejects.ndjson`, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
const sent = () => collector.requests.flatMap((request) => request.body.batch);

/** A CSV of `rows` customers; `pad` adds that many characters to each row. */
function customers(rows: number, pad = 0): string {
  const lines = ["id,email,spent,note"];
  for (let i = 1; i <= rows; i++) lines.push(`u${i},u${i}@example.com,${i},${"x".repeat(pad)}`);
  return lines.join("\n");
}

describe("tessera import", () => {
  it("sends each POS row as the message it maps to, gzipped, with the write key, and reports the bad row", async () => {
    const file = write("sales.csv", POS_CSV);
    const run = await importFile(file, ...POS_MAPPING);

    expect(run.code).toBe(1);
    expect(collector.requests).toHaveLength(1);
    const [request] = collector.requests;
    expect(request.method).toBe("POST");
    expect(request.path).toBe("/v1/batch");
    expect(request.headers["content-encoding"]).toBe("gzip");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from("wk_test:").toString("base64")}`);
    expect(request.body.context).toEqual({ library: { name: "tessera-cli", version: "0.1.0" } });
    expect(request.body.batch).toEqual([
      FIRST_POS_MESSAGE,
      {
        type: "track",
        event: "Order Completed",
        userId: "C-43",
        messageId: "R-1002",
        timestamp: "2024-03-01T11:00:00.000Z",
        properties: { total: 12, items: "Tea\n(2 boxes)", store: "0042", loyalty: false, channel: "pos" },
        context: { traits: { email: "bob@example.com" } },
      },
    ]);

    expect(readRejects(file)).toEqual([
      {
        row: 3,
        line: 5,
        messageId: "R-1003",
        error: "userId or anonymousId is required",
        input: {
          receipt_id: "R-1003",
          customer_id: "",
          email: "nobody@example.com",
          phone: "",
          total: "5",
          items: "Pen",
          store: "0042",
          purchased_at: "2024-03-01T12:00:00Z",
          loyalty: "false",
        },
      },
    ]);
    expect(run.stdout).toContain(`${file}: 3 rows, 2 accepted, 1 rejected in 1 batch`);
    expect(run.stdout).toContain(`Rejected rows and reasons: ${file}.rejects.ndjson`);
  });

  it("reads a semicolon-separated export with decimal commas, as spreadsheets in much of Europe save them", async () => {
    const file = write(
      "verkauf.csv",
      '\uFEFFbeleg;kunde;summe;artikel\r\nB-1;K-1;59,90;"Tasse; groß"\r\nB-2;K-2;1.250;Kanne\r\n',
    );
    const run = await importFile(file, ...RECEIPT_MAPPING, "--decimal-comma");

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${file}: 2 rows, 2 accepted, 0 rejected in 1 batch`);
    expect(run.stderr).toContain('Columns separated by ";", as the header is (--delimiter to choose).');
    expect(sent().map((m) => [m.userId, m.properties])).toEqual([
      ["K-1", { summe: 59.9, artikel: "Tasse; groß" }],
      // A dot under --decimal-comma may be a thousands separator: kept as written.
      ["K-2", { summe: "1.250", artikel: "Kanne" }],
    ]);
  });

  it("reads a windows-1252 export with --encoding, and without it stops at its first line that is not UTF-8", async () => {
    // What Excel on Windows saves as "CSV": one byte per accented letter (ü is 0xFC), not UTF-8.
    const file = write("kunden.csv", Buffer.from("beleg,kunde,name\nB-1,K-1,Ada\nB-2,K-2,M\xfcller\n", "latin1"));
    const refused = await importFile(file, ...RECEIPT_MAPPING);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${file}: line 3 is not UTF-8 (byte 0xFC)`);
    expect(refused.stderr).toContain("add --encoding windows-1252");
    expect(collector.requests).toHaveLength(0);

    const run = await importFile(file, ...RECEIPT_MAPPING, "--encoding", "windows-1252");
    expect(run.code).toBe(0);
    expect(sent().map((m) => m.properties)).toEqual([{ name: "Ada" }, { name: "Müller" }]);
  });

  it("leaves out the cells of a column the header does not name (a separator ending every line), and says so", async () => {
    const file = write("kasse.csv", "beleg;kunde;summe;\nB-1;K-1;5;\nB-2;K-2;7;x\n");
    const run = await importFile(file, ...RECEIPT_MAPPING);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("The header names no column 4 (of 4): its cells are left out.");
    expect(sent().map((m) => [m.userId, m.properties])).toEqual([
      ["K-1", { summe: 5 }],
      ["K-2", { summe: 7 }],
    ]);
  });

  it("skips a report's title lines with --skip-lines, and names rows by their line in the file", async () => {
    const file = write("bericht.csv", "Umsatz März\nFiliale 0042\nbeleg;kunde;summe\nB-1;K-1;5\nB-2;;7\n");
    const run = await importFile(file, ...RECEIPT_MAPPING, "--skip-lines", "2");
    expect(run.code).toBe(1);
    expect(sent().map((m) => m.userId)).toEqual(["K-1"]);
    expect(readRejects(file).map((r) => [r.row, r.line])).toEqual([[2, 5]]);
  });

  it("reads money columns with --number, and rejects the row whose amount is not one", async () => {
    const file = write("sales.csv", 'receipt,customer,total\nR-1,C-1,"$1,234.50"\nR-2,C-2,(5.00)\nR-3,C-3,TBD\n');
    const run = await importFile(
      file,
      "--event",
      "Order Completed",
      "--user-id",
      "customer",
      "--message-id",
      "receipt",
      "--number",
      "total",
    );
    expect(run.code).toBe(1);
    expect(sent().map((m) => m.properties)).toEqual([{ total: 1234.5 }, { total: -5 }]);
    expect(readRejects(file).map((r) => [r.row, r.error])).toEqual([[3, '--number total: "TBD" is not a number']]);
  });

  it("sends a till's loyalty card numbers as external ids, rows with no other id included", async () => {
    const file = write("till.csv", "receipt,card,total\nR-1,L-0042,5\nR-2,L-0042,7\nR-3,,9\n");
    const run = await importFile(
      file,
      "--event",
      "Order Completed",
      "--external-id",
      "loyalty_number=card",
      "--message-id",
      "receipt",
    );
    expect(run.code).toBe(1);
    const card = [{ id: "L-0042", type: "loyalty_number", collection: "users", encoding: "none" }];
    expect(
      sent().map((m) => [m.messageId, m.anonymousId, (m.context as { externalIds?: unknown }).externalIds]),
    ).toEqual([
      ["R-1", "loyalty_number:L-0042", card],
      ["R-2", "loyalty_number:L-0042", card],
    ]);
    // A row with no id at all is refused, with the collector's own reason.
    expect(readRejects(file).map((r) => [r.row, r.error])).toEqual([
      [3, expect.stringMatching(/userId or anonymousId/)],
    ]);
  });

  it("reads store-local times in a format of their own, and rejects the row whose time does not match it", async () => {
    const file = write("kasse.csv", "beleg,kunde,zeit\nB-1,K-1,01.03.2024 10:15\nB-2,K-2,2024-03-01\n");
    const run = await importFile(
      file,
      ...RECEIPT_MAPPING,
      "--timestamp",
      "zeit",
      "--timestamp-format",
      "dd.MM.yyyy HH:mm",
      "--timezone",
      "Europe/Berlin",
    );

    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`${file}: 2 rows, 1 accepted, 1 rejected in 1 batch`);
    expect(sent().map((m) => [m.messageId, m.timestamp])).toEqual([["B-1", "2024-03-01T09:15:00.000Z"]]);
    expect(readRejects(file).map((r) => [r.row, r.messageId, r.error])).toEqual([
      [2, "B-2", 'timestamp "2024-03-01" does not match --timestamp-format "dd.MM.yyyy HH:mm"'],
    ]);
  });

  it("sends a row with an email or phone identity resolution cannot use, and lists it apart from the rejects", async () => {
    const file = write(
      "crm.csv",
      [
        "id,email,phone",
        "C-1,jane@,+14155550101",
        "C-2,bo@example.com,020 7946 0000",
        "C-3,cy@example.com,",
        "C-4,no-address,",
        // Too short to be a UK number: the collector reads phones with libphonenumber, and so does the check.
        "C-5,di@example.com,+44 12",
      ].join("\n"),
    );
    collector.options.rejectIf = (m) => (m.userId === "C-4" ? "refused for a reason of its own" : null);
    const run = await importFile(file, "--as", "identify", "--user-id", "id", "--email", "email", "--phone", "phone");

    // Every row is sent with its other identifiers; the refused value stays a trait, as the collector keeps it.
    expect(sent().map((m) => [m.userId, m.traits])).toEqual([
      ["C-1", { email: "jane@", phone: "+14155550101" }],
      ["C-2", { email: "bo@example.com", phone: "020 7946 0000" }],
      ["C-3", { email: "cy@example.com" }],
      ["C-4", { email: "no-address" }],
      ["C-5", { email: "di@example.com", phone: "+44 12" }],
    ]);
    expect(run.stdout).toContain("5 rows, 4 accepted, 1 rejected");
    expect(run.stdout).toContain(
      "3 rows were stored by their other identifiers, without an email, phone or id identity resolution cannot use " +
        `(not an address, no country code, a blocked value): which and why in ${file}.warnings.ndjson`,
    );
    const warned = readFileSync(`${file}.warnings.ndjson`, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(warned.map((w) => [w.row, w.messageId.startsWith("imp-"), w.warnings])).toEqual([
      [1, true, ['email "jane@": email is not an address (nothing after the @)']],
      [
        2,
        true,
        ['phone "020 7946 0000": phone has no country code (+…) and the identity rules set no default_country'],
      ],
      [5, true, ['phone "+44 12": phone is not a possible number for +44']],
    ]);
    expect(warned[0].input).toEqual({ id: "C-1", email: "jane@", phone: "+14155550101" });
    // The rejects file still means "not stored": the row the collector refused, and no warned row.
    expect(readRejects(file).map((r) => [r.row, r.error])).toEqual([[4, "refused for a reason of its own"]]);
  });

  it("counts as stored with an unusable value only the rows this run stored, in the right number", async () => {
    const crm = ["--as", "identify", "--user-id", "id", "--email", "email"];
    const file = write("people-warned.csv", "id,email\nP-1,jane@\nP-2,bo@example.com\n");
    const warnedLine = (n: string) =>
      `${n} stored by its other identifiers, without an email, phone or id identity resolution cannot use ` +
      `(not an address, no country code, a blocked value): which and why in ${file}.warnings.ndjson`;

    const first = await importFile(file, ...crm);
    expect(first.stdout).toContain("2 rows, 2 accepted, 0 rejected");
    expect(first.stdout).toContain(`${warnedLine("1 row was")}\n`);

    // Imported again, nothing is stored: no row of this run was stored by its other identifiers, and none is listed.
    const again = await importFile(file, ...crm);
    expect(again.stdout).toContain("2 rows, 0 accepted, 2 already stored, 0 rejected");
    expect(again.stdout).not.toContain("other identifiers");
    expect(existsSync(`${file}.warnings.ndjson`)).toBe(false);

    // A row added since: the batch holds it and the two stored before, and the collector says how many it held, not
    // which, so the old warned row may be new too. Both are listed; the summary says one of them is perhaps not new.
    writeFileSync(file, "id,email\nP-1,jane@\nP-2,bo@example.com\nP-3,cy@\n");
    const grown = await importFile(file, ...crm);
    expect(grown.stdout).toContain("3 rows, 1 accepted, 2 already stored, 0 rejected");
    expect(grown.stdout).toContain(
      `${warnedLine("2 rows were").replace("by its", "by their")} (all of them perhaps by an earlier run: their ` +
        "batches also held rows already stored, and the collector says how many, not which)",
    );
  });

  it("sends times whose offset is written +HH or +HHMM, as ISO 8601 allows, for the instant they name", async () => {
    const file = write(
      "offsets.csv",
      "beleg,kunde,zeit\nB-1,K-1,2024-03-01T10:15:00+01\nB-2,K-2,2024-03-01 10:15-0500\nB-3,K-3,2024-03-01T10:15:00Z\n",
    );
    const run = await importFile(file, ...RECEIPT_MAPPING, "--timestamp", "zeit");

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${file}: 3 rows, 3 accepted, 0 rejected`);
    // Passed on as written (Date.parse refuses `+01`): read the way the collector reads them.
    const instant = (t: unknown) => new Date(parseIsoTimestamp(t as string) ?? Number.NaN).toISOString();
    expect(sent().map((m) => [m.messageId, instant(m.timestamp)])).toEqual([
      ["B-1", "2024-03-01T09:15:00.000Z"],
      ["B-2", "2024-03-01T15:15:00.000Z"],
      ["B-3", "2024-03-01T10:15:00.000Z"],
    ]);
  });

  it("refuses a row whose messageId another row already has for other content, instead of losing it", async () => {
    // A line-item export: receipt R-1 has two lines, and the receipt number was mapped as the message id.
    const file = write("lines.csv", "receipt,customer,sku\nR-1,C-1,MUG\nR-1,C-1,TEA\nR-2,C-2,PEN\nR-2,C-2,PEN\n");
    const run = await importFile(
      file,
      "--event",
      "Order Completed",
      "--user-id",
      "customer",
      "--message-id",
      "receipt",
    );

    expect(run.code).toBe(1);
    // The repeated R-2 row is the same message: sent again, stored once by the collector as it should be.
    expect(sent().map((m) => [m.messageId, (m.properties as { sku: string }).sku])).toEqual([
      ["R-1", "MUG"],
      ["R-2", "PEN"],
      ["R-2", "PEN"],
    ]);
    expect(readRejects(file).map((r) => [r.row, r.messageId, r.error.split(":")[0]])).toEqual([
      [2, "R-1", `messageId "R-1" is row 1's already, with other content`],
    ]);
  });

  it("reports a changed row re-sent under a stored --message-id as already stored, not as accepted", async () => {
    const crm = ["--as", "identify", "--user-id", "user_id", "--email", "email", "--timestamp", "updated_at"];
    const header = "record_id,user_id,email,plan,updated_at";
    const first = write("crmB-1.csv", `${header}\nREC-002,U-CRM2,crm2@example.com,basic,2024-03-01T00:00:00Z\n`);
    expect((await importFile(first, ...crm, "--message-id", "record_id")).stdout).toContain("1 row, 1 accepted");
    const changed = write(
      "crmB-2.csv",
      `${header}\nREC-002,U-CRM2,crm2-new@example.com,premium,2024-03-02T00:00:00Z\n`,
    );
    const run = await importFile(changed, ...crm, "--message-id", "record_id");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${changed}: 1 row, 0 accepted, 1 already stored, 0 rejected`);
    expect(run.stdout).toContain(
      "1 already stored under the same message id: not stored again — the collector keeps the first message under " +
        "an id, whatever its --as or --event: to import the same rows as another type or event, leave --message-id " +
        "out (the hashed ids cover both); give rows changed since a new --message-id, e.g. record id + updated time",
    );
    expect(collector.stored.get("REC-002")).toMatchObject({ traits: { plan: "basic" } });
  });

  it("stores a track file's rows again as identify when --message-id is left out, not under the receipt ids", async () => {
    const file = write("till-traits.csv", "receipt,customer,email,store,total\nR-1,C-7,ann@example.com,Mitte,59.90\n");
    const till = ["--external-id", "pos_customer=customer", "--email", "email"];
    const track = await importFile(file, "--event", "Order Completed", ...till, "--message-id", "receipt");
    expect(track.stdout).toContain("1 row, 1 accepted, 0 rejected");

    // The receipt number is the stored purchase's id already: as identify under it, the collector stores nothing.
    const sameIds = await importFile(file, "--as", "identify", ...till, "--message-id", "receipt");
    expect(sameIds.stdout).toContain("1 row, 0 accepted, 1 already stored, 0 rejected");
    expect(sameIds.stdout).toContain("to import the same rows as another type or event, leave --message-id out");

    const traits = await importFile(file, "--as", "identify", ...till, "--ignore", "receipt", "--ignore", "total");
    expect(traits.stdout).toContain("1 row, 1 accepted, 0 rejected");
    expect(sent().at(-1)).toMatchObject({
      type: "identify",
      anonymousId: "pos_customer:C-7",
      messageId: expect.stringMatching(/^imp-/),
      traits: { email: "ann@example.com", store: "Mitte" },
    });
    expect(Object.keys(sent().at(-1)?.traits as object)).toEqual(["email", "store"]);
    // Its hashed id is the same on the next run: stored once.
    expect(
      (await importFile(file, "--as", "identify", ...till, "--ignore", "receipt", "--ignore", "total")).stdout,
    ).toContain("1 row, 0 accepted, 1 already stored");
  });

  it("counts a one-row file as one row", async () => {
    const file = write("one.csv", "id,email\nu1,u1@example.com\n");
    const run = await importFile(file, "--event", "Signed Up", "--user-id", "id");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${file}: 1 row, 1 accepted, 0 rejected in 1 batch`);
  });

  it("maps the collector's per-message rejections back to their rows; --allow-rejects exits 0", async () => {
    collector.options.rejectIf = (message) =>
      (message.properties as { spent: number }).spent % 2 === 0 ? "properties.spent is even" : null;
    const file = write("people.csv", customers(5));
    const strict = await importFile(file, "--event", "Signed Up", "--user-id", "id");
    expect(strict.code).toBe(1);
    expect(readRejects(file).map((r) => [r.row, r.error, r.input.id])).toEqual([
      [2, "properties.spent is even", "u2"],
      [4, "properties.spent is even", "u4"],
    ]);
    const lenient = await importFile(file, "--event", "Signed Up", "--user-id", "id", "--allow-rejects");
    expect(lenient.code).toBe(0);
    // The first run stored the other three: this one says so rather than counting them as accepted again.
    expect(lenient.stdout).toContain("5 rows, 0 accepted, 3 already stored, 2 rejected");
  });

  it("rejects every row of a batch the collector refuses whole (400), with its message", async () => {
    collector.options.answer = () => ({
      status: 400,
      body: { error: { code: "validation_error", message: "No message was accepted: suppressed" } },
    });
    const file = write("suppressed.csv", customers(3));
    const run = await importFile(file, "--as", "identify", "--user-id", "id");
    expect(run.code).toBe(1);
    expect(readRejects(file).map((r) => [r.row, r.error])).toEqual(
      [1, 2, 3].map((row) => [row, "400 validation_error: No message was accepted: suppressed"]),
    );
  });

  it("gives every row the same messageId on every run, from any copy of the file, so nothing is stored twice", async () => {
    const file = write("loyalty.csv", customers(50));
    const args = ["--event", "Points Earned", "--user-id", "id"];
    expect((await importFile(file, ...args)).code).toBe(0);
    const first = sent().map((m) => m.messageId);
    expect(new Set(first).size).toBe(50);
    for (const id of first) expect(id).toMatch(/^imp-[0-9a-f]{32}$/);

    mkdirSync(path.join(dir, "elsewhere"));
    const copy = path.join(dir, "elsewhere", "loyalty.csv");
    copyFileSync(file, copy);
    const gz = write("loyalty.csv.gz", gzipSync(readFileSync(file)));
    for (const again of [file, copy, gz]) {
      collector.requests.length = 0;
      const run = await runCli(["import", again, ...connect(), ...args]);
      expect(run.code).toBe(0);
      expect(sent().map((m) => m.messageId)).toEqual(first);
      if (again === file)
        expect(run.stderr).toBe(`Note: ${file} was imported before; rows already stored are not stored twice.\n`);
    }
    expect(collector.stored.size).toBe(50);
  });

  it("stores rows piped through stdin with --source-name once with the same rows imported by path", async () => {
    const text = customers(3);
    const file = write("people.csv", text);
    const mapping = ["--as", "identify", "--user-id", "id"];
    expect((await importFile(file, ...mapping)).code).toBe(0);
    expect(collector.stored.size).toBe(3);

    const piped = (...flags: string[]) =>
      runCli(["import", "-", ...connect(), "--format", "csv", ...mapping, ...flags], { stdin: text });
    const named = await piped("--source-name", "people.csv");
    expect(named.code).toBe(0);
    expect(named.stdout).toContain("3 rows, 0 accepted, 3 already stored");
    expect(named.stderr).not.toContain('hashed under the name "stdin"');
    expect(collector.stored.size).toBe(3);

    // Without it the rows are other messages to the collector, and the run says so.
    const unnamed = await piped();
    expect(unnamed.stderr).toContain('Rows are hashed under the name "stdin"');
    expect(collector.stored.size).toBe(6);
  });

  it.each([
    {
      what: "an NDJSON line",
      name: "archive.ndjson",
      text: (long: string, next: string) => `${long}\n${next}\n`,
      line: 1,
      noun: "line",
    },
    {
      what: "a .json array element",
      name: "archive.json",
      text: (long: string, next: string) => `[\n${long},\n${next}\n]\n`,
      line: 2,
      noun: "element",
    },
  ])("rejects $what too long to be a message with the reason, and sends what comes after it", async (shape) => {
    const long = `{"type":"identify","userId":"u1","traits":{"blob":"${"x".repeat(3_000_000)}"}}`;
    const file = write(shape.name, shape.text(long, '{"type":"identify","userId":"u2"}'));
    const run = await importFile(file);
    expect(run.code).toBe(1);
    expect(sent().map((m) => m.userId)).toEqual(["u2"]);
    const [reject, ...none] = readRejects(file);
    expect(none).toEqual([]);
    expect([reject.row, reject.line, reject.error]).toEqual([
      1,
      shape.line,
      `${shape.noun} longer than any message can be (3,000,054 bytes; a message is at most 32,768): not read`,
    ]);
    // The rejects file shows which one it was, not all of it.
    expect(reject.input).toMatch(/^\{"type":"identify","userId":"u1","traits":\{"blob":"x+…$/);
    expect(reject.input.length).toBeLessThanOrEqual(201);
  });

  it("sends NDJSON messages as they are, from stdin, adding only missing messageIds and leaving out sentAt", async () => {
    const lines = [
      '{"type":"identify","userId":"u1","traits":{"plan":"pro"},"messageId":"keep-me"}',
      "",
      // As an archive holds it: sentAt is its first delivery's, and is left out so the timestamp stays as it is.
      '{"type":"track","anonymousId":"a1","event":"Viewed","properties":{"sku":"0042"},' +
        '"timestamp":"2024-03-01T10:15:00.900Z","sentAt":"2024-03-01T10:15:00.100Z"}',
      "{not json",
      '{"type":"track","userId":"u2"}',
    ];
    const rejectsFile = path.join(dir, "stdin.rejects.ndjson");
    const argv = ["import", "-", "--format", "ndjson", "--rejects", rejectsFile, ...connect()];
    const run = await runCli(argv, { stdin: lines.join("\n") });
    expect(run.code).toBe(1);
    expect(sent()).toEqual([
      { type: "identify", userId: "u1", traits: { plan: "pro" }, messageId: "keep-me" },
      {
        type: "track",
        anonymousId: "a1",
        event: "Viewed",
        properties: { sku: "0042" },
        timestamp: "2024-03-01T10:15:00.900Z",
        messageId: expect.stringMatching(/^imp-/),
      },
    ]);
    const rejects = readRejects(path.join(dir, "stdin"));
    expect(rejects.map((r) => [r.row, r.line, r.error])).toEqual([
      [3, 4, expect.stringMatching(/^not valid JSON: /)],
      [4, 5, expect.stringMatching(/track needs an event name/)],
    ]);
    expect(rejects[0].input).toBe("{not json");
  });

  it("validates a dry run locally, sends nothing and lists its rejects apart from a real run's", async () => {
    const file = write("dry.csv", POS_CSV);
    const run = await runCli(["import", file, "--dry-run", ...POS_MAPPING]);
    expect(run.code).toBe(1);
    expect(collector.requests).toHaveLength(0);
    expect(readRejects(`${file}.dry-run`).map((r) => r.row)).toEqual([3]);
    expect(run.stdout).toContain(`Rejected rows and reasons: ${file}.dry-run.rejects.ndjson`);
    expect(existsSync(`${file}.rejects.ndjson`)).toBe(false);
    expect(run.stdout).toContain("3 rows, 2 valid, 1 rejected in 1 batch");
    expect(run.stdout).toContain("dry run, nothing sent");
    expect(run.stdout).toContain("The first valid row would be sent as:");
    expect(existsSync(`${file}.checkpoint.json`)).toBe(false);
    // The first valid row as it would be sent, to check the mapping by eye.
    const label = "The first valid row would be sent as:\n";
    const shown = run.stdout.slice(run.stdout.indexOf(label) + label.length);
    expect(JSON.parse(shown)).toEqual(FIRST_POS_MESSAGE);
  });

  it("says a dry run does not resume, and checks every row, when given --resume", async () => {
    const file = write("dry-resume.csv", POS_CSV);
    const run = await runCli(["import", file, "--dry-run", "--resume", ...POS_MAPPING]);
    expect(run.stderr).toBe(
      "A dry run checks every row and keeps no checkpoint: --resume is ignored, the check starts at the first row.\n",
    );
    expect(run.stdout).toContain("3 rows, 2 valid, 1 rejected in 1 batch");
    expect(readRejects(`${file}.dry-run`).map((r) => r.row)).toEqual([3]);
    expect(collector.requests).toHaveLength(0);
    expect(existsSync(`${file}.checkpoint.json`)).toBe(false);
  });

  it("stops with code 2 before sending anything when a mapped column is missing", async () => {
    const file = write("typo.csv", POS_CSV);
    const run = await importFile(file, "--event", "E", "--user-id", "customer");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--user-id "customer": the file has no such column');
    expect(collector.requests).toHaveLength(0);
  });

  it("refuses an email column beside --email on identify rows, before sending; --ignore it to send the mapped one", async () => {
    const file = write("crm-emails.csv", "id,email,work_email\nP-1,personal@example.com,jane@work.example\n");
    const crm = ["--as", "identify", "--user-id", "id", "--email", "work_email"];
    const run = await importFile(file, ...crm);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      '--email work_email: the file\'s column "email" fills the trait email too, and would replace the --email ' +
        'column\'s value on every row; --ignore email to send "work_email" as the email',
    );
    expect(collector.requests).toHaveLength(0);

    const chosen = await importFile(file, ...crm, "--ignore", "email");
    expect(chosen.code).toBe(0);
    expect(sent().map((m) => m.traits)).toEqual([{ email: "jane@work.example" }]);
  });

  it("refuses a --set key that a column of the file also fills, before sending; --ignore the column to use it", async () => {
    const file = write("channels.csv", "id,channel,total\nu1,web,5\nu2,,6\n");
    const run = await importFile(file, "--event", "Sale", "--user-id", "id", "--set", "channel=pos");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      '--set channel: the file\'s column "channel" fills that property too, and the constant would replace every ' +
        "row's value; --ignore channel to send the constant, or leave out --set channel",
    );
    expect(collector.requests).toHaveLength(0);

    const chosen = await importFile(
      file,
      "--event",
      "Sale",
      "--user-id",
      "id",
      "--set",
      "channel=pos",
      "--ignore",
      "channel",
    );
    expect(chosen.code).toBe(0);
    expect(sent().map((m) => m.properties)).toEqual([
      { total: 5, channel: "pos" },
      { total: 6, channel: "pos" },
    ]);
  });

  it("rejects a row whose --message-id cell is empty rather than hashing it, and sends the others", async () => {
    const file = write("receipts.csv", "beleg,kunde,summe\nB-1,K-1,5\n ,K-2,6\nB-3,K-3,7\n");
    const run = await importFile(file, ...RECEIPT_MAPPING);
    expect(run.code).toBe(1);
    expect(sent().map((m) => m.messageId)).toEqual(["B-1", "B-3"]);
    expect(readRejects(file).map((r) => [r.row, r.line, r.error])).toEqual([
      [2, 3, '--message-id column "beleg" is empty'],
    ]);
  });

  it("rejects a row whose --timestamp cell is empty instead of dating it at the import", async () => {
    const file = write(
      "receipts-e1.csv",
      "receipt_id,customer_id,total,purchased_at\nE1-1,CE1,10,2023-01-05\nE1-2,CE1,20,\n",
    );
    const run = await importFile(
      file,
      "--event",
      "Order Completed",
      "--user-id",
      "customer_id",
      "--timestamp",
      "purchased_at",
    );
    expect(run.code).toBe(1);
    expect(sent().map((m) => m.properties)).toEqual([{ receipt_id: "E1-1", total: 10 }]);
    expect(readRejects(file).map((r) => [r.row, r.line, r.error])).toEqual([
      [2, 3, '--timestamp column "purchased_at" is empty (the row would be dated at the import, not when it happened)'],
    ]);
  });

  it("stops with code 2 on an empty file, and checks the mapping against a header with no rows", async () => {
    const empty = write("nightly.csv", "");
    const run = await importFile(empty, ...POS_MAPPING);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`tessera import: ${empty}: the file is empty (no header line)\n`);
    const headerOnly = write("header.csv", "receipt_id,customer\n");
    const wrong = await importFile(headerOnly, ...POS_MAPPING);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("customer_id");
    expect(collector.requests).toHaveLength(0);
  });

  it("says a file ending in .gz that is not gzip is not, with code 2 and nothing sent", async () => {
    const file = write("sales.csv.gz", POS_CSV);
    const run = await importFile(file, ...POS_MAPPING);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `tessera import: ${file} ends in .gz but is not gzip-compressed (gzip data starts with the bytes 1f 8b); ` +
        "if it is the plain file, rename it without .gz\n",
    );
    expect(collector.requests).toHaveLength(0);
  });

  it("names the --delimiter when the header does not use it, and the one it seems to use", async () => {
    const file = write("colon.csv", POS_CSV);
    const run = await importFile(file, ...POS_MAPPING, "--delimiter", ":");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      '--delimiter ":": the header line has no ":" between columns (read as one column); it looks separated by ' +
        '",": leave --delimiter out to have the separator found, or give the right one',
    );
    const semicolon = await importFile(file, ...POS_MAPPING, "--delimiter", ";");
    expect(semicolon.code).toBe(2);
    expect(semicolon.stderr).toContain('--delimiter ";": the header line has no ";" between columns');
    expect(collector.requests).toHaveLength(0);
  });

  it("explains a quoted header that the --delimiter splits wrongly by the separator it does use", async () => {
    // Excel's "CSV (semicolon)" with every cell quoted: read with "," the header is one column of quoted names.
    const quoted = POS_CSV.split("\n")[0]
      .split(",")
      .map((name) => `"${name}"`)
      .join(";");
    const file = write(
      "quoted.csv",
      `${quoted}\n"R-1";"C-1";"a@example.com";"";"5";"Pen";"1";"2024-03-01T10:15:00Z";"x"\n`,
    );
    const run = await importFile(file, ...POS_MAPPING, "--delimiter", ",");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'it looks separated by ";": leave --delimiter out to have the separator found, or give the right one',
    );
    expect(collector.requests).toHaveLength(0);
    // Left out, the separator is found and the file is read.
    const found = await importFile(file, ...POS_MAPPING);
    expect(found.code).toBe(0);
  });

  it("stops at once, saying so, when nothing answers at --host", async () => {
    const file = write("sales.csv", POS_CSV);
    const closed = collector.url;
    await collector.close();
    const run = await runCli(["import", file, "--host", closed, "--write-key", "wk_test", ...POS_MAPPING]);
    expect(run.code).toBe(3);
    expect(run.stdout).toContain(`cannot reach ${closed}: the connection was refused`);
    expect(run.stdout).not.toContain("gave up after");
    // Nothing was acknowledged: no advice to resume.
    expect(run.stdout).not.toContain("--resume");
    collector = await startFakeCollector();
  });

  it("keeps every cell of a row with more fields than the header in the rejects file", async () => {
    const file = write("extra.csv", 'id,email\nx1,x1@example.com,"important, extra data"\nx2,x2@example.com\n');
    const run = await importFile(file, "--as", "identify", "--user-id", "id", "--email", "email");
    expect(run.code).toBe(1);
    expect(readRejects(file)).toEqual([
      {
        row: 1,
        line: 2,
        messageId: expect.any(String),
        error: "the row has 3 fields; the header has 2",
        input: { id: "x1", email: "x1@example.com" },
        cells: ["x1", "x1@example.com", "important, extra data"],
      },
    ]);
    expect(sent().map((m) => m.userId)).toEqual(["x2"]);
  });

  it("sends a row with a quote inside an unquoted cell as written", async () => {
    const file = write("tv.csv", 'id,item,total\nu1,Mug,5\nu2,TV 55" Samsung,499\n');
    const run = await importFile(file, "--event", "Sale", "--user-id", "id");
    expect(run.code).toBe(0);
    expect(sent().map((m) => [m.userId, (m.properties as { item: string }).item])).toEqual([
      ["u1", "Mug"],
      ["u2", 'TV 55" Samsung'],
    ]);
  });

  it("rejects a row whose quote is never closed, with its line and text, and sends the rows before and after it", async () => {
    const after = "u252,u252@example.com,252,\nu253,u253@example.com,253,\n";
    const file = write("unclosed.csv", `${customers(250)}\nu251,"Samsung TV,251,x\n${after}`);
    const run = await importFile(file, "--event", "Sale", "--user-id", "id", "--batch-size", "100");
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("253 rows, 252 accepted, 1 rejected");
    expect(collector.stored.size).toBe(252);
    expect(readRejects(file)).toEqual([
      {
        row: 251,
        line: 252,
        error: expect.stringMatching(
          /^a quote opened on line 252 is never closed; the lines after it were read as rows/,
        ),
        input: 'u251,"Samsung TV,251,x\n',
      },
    ]);
    // Batches go out several at once, so they may arrive in any order: which rows were sent is what counts.
    const sentIds = new Set(sent().map((m) => m.userId));
    expect(["u250", "u251", "u252", "u253"].filter((id) => sentIds.has(id))).toEqual(["u250", "u252", "u253"]);
  });

  it("costs one row for a quote left open in the middle of a 10,000-row file, with quoted cells after it", async () => {
    const lines = ["id,name,email,spent"];
    for (let i = 1; i <= 10000; i++) {
      if (i === 5000) lines.push('5000,"Jane,jane@x.com,42');
      // Quoted cells below the open quote, one holding a line break: csv-parse paired them with it.
      else if (i % 500 === 0) lines.push(`${i},"Doe, J.\r\n(shop ${i})",u${i}@example.com,${i}`);
      else if (i % 7 === 0) lines.push(`${i},"Mug, large",u${i}@example.com,${i}`);
      else lines.push(`${i},Ann,u${i}@example.com,${i}`);
    }
    const file = write("ten-thousand.csv", `${lines.join("\r\n")}\r\n`);
    const run = await importFile(file, "--as", "identify", "--user-id", "id");
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("10,000 rows, 9,999 accepted, 1 rejected");
    expect(readRejects(file)).toEqual([
      {
        row: 5000,
        // Rows 500 to 4500 hold a line break each: 9 lines more above it.
        line: 5010,
        error: expect.stringMatching(/^a quote opened on line 5010 is not closed on its row/),
        input: '5000,"Jane,jane@x.com,42\r\n',
      },
    ]);
    const byId = new Map(sent().map((m) => [m.userId, m.traits as Record<string, unknown>]));
    expect(byId.size).toBe(9999);
    expect(byId.get("5001")).toEqual({ name: "Ann", email: "u5001@example.com", spent: 5001 });
    expect(byId.get("5005")).toEqual({ name: "Mug, large", email: "u5005@example.com", spent: 5005 });
    expect(byId.get("5500")).toEqual({ name: "Doe, J.\r\n(shop 5500)", email: "u5500@example.com", spent: 5500 });
    expect(byId.get("10000")).toEqual({ name: "Doe, J.\r\n(shop 10000)", email: "u10000@example.com", spent: 10000 });
  });

  it("passes over a spreadsheet's blank rows (every cell empty), says how many, and exits 0", async () => {
    const file = write("blank.csv", "id,item,total\r\nu1,Mug,5\r\n,,\r\n , ,\r\nu2,Pen,2\r\n,,\r\n");
    const run = await importFile(file, "--event", "Sale", "--user-id", "id");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${file}: 2 rows, 2 accepted, 0 rejected`);
    expect(run.stdout).toContain("Passed over 3 blank rows (every cell empty)");
    expect(existsSync(`${file}.rejects.ndjson`)).toBe(false);
    expect(sent().map((m) => m.userId)).toEqual(["u1", "u2"]);
  });

  it("says a file was imported before only when this run reached the server too", async () => {
    const file = write("again.csv", customers(3));
    const args = ["--as", "identify", "--user-id", "id"];
    expect((await importFile(file, ...args)).code).toBe(0);
    const closed = collector.url;
    await collector.close();
    const unreachable = await runCli(["import", file, "--host", closed, "--write-key", "wk_test", ...args]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).not.toContain("Note:");
    collector = await startFakeCollector();
    collector.options.answer = () => ({
      status: 401,
      body: { error: { code: "authentication_error", message: "Unknown write key" } },
    });
    const refused = await importFile(file, ...args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).not.toContain("Note:");
  });

  it("stops with code 2 before sending, saying why, when the rejects or warnings file cannot be written", async () => {
    const file = write("orders.csv", customers(3));
    const folder = path.join(dir, "rejects");
    mkdirSync(folder);
    const rejects = await importFile(file, "--as", "identify", "--user-id", "id", "--rejects", folder);
    expect([rejects.code, rejects.stderr]).toEqual([2, `tessera import: cannot write ${folder}: it is a directory\n`]);
    const missing = path.join(dir, "no-such-folder", "rejects.ndjson");
    const nowhere = await importFile(file, "--as", "identify", "--user-id", "id", "--rejects", missing);
    expect([nowhere.code, nowhere.stderr]).toEqual([
      2,
      `tessera import: cannot write ${missing}: its directory does not exist\n`,
    ]);
    mkdirSync(`${file}.warnings.ndjson`);
    const warnings = await importFile(file, "--as", "identify", "--user-id", "id");
    expect([warnings.code, warnings.stderr]).toEqual([
      2,
      `tessera import: cannot write ${file}.warnings.ndjson: it is a directory\n`,
    ]);
    expect(collector.requests).toHaveLength(0);
  });

  it("stops with code 2 and no checkpoint when --host answers 200 but not as a Tessera collector", async () => {
    collector.options.answer = () => ({ status: 200, body: { status: "ok" } });
    const file = write("wrong-host.csv", customers(3));
    const run = await importFile(file, "--as", "identify", "--user-id", "id");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `tessera import: ${collector.url} answered 200 but not as a Tessera collector: {"status":"ok"}\n`,
    );
    expect(run.stdout).not.toContain("accepted");
    expect(existsSync(`${file}.checkpoint.json`)).toBe(false);
  });

  it("stops with code 3 at a batch answered 200 but not as the collector, checkpointing only the rows before it", async () => {
    collector.options.answer = (_request, n) => (n === 0 ? "store" : { status: 200, body: { status: "ok" } });
    const file = write("proxy.csv", customers(250));
    const run = await importFile(
      file,
      "--as",
      "identify",
      "--user-id",
      "id",
      "--batch-size",
      "100",
      "--concurrency",
      "1",
    );
    expect(run.code).toBe(3);
    expect(run.stdout).toContain(
      `Stopped before the end: rows 101–200: ${collector.url} answered 200 but not as a Tessera collector`,
    );
    expect(JSON.parse(readFileSync(`${file}.checkpoint.json`, "utf8"))).toMatchObject({
      rows: 100,
      accepted: 100,
      complete: false,
    });
  });

  it("stops with code 2, saying the write key was refused, when the first request is answered 401 or 403", async () => {
    for (const status of [401, 403]) {
      collector.options.answer = () => ({
        status,
        body: { error: { code: "authentication_error", message: "Unknown write key" } },
      });
      collector.requests.length = 0;
      const file = write(`refused-${status}.csv`, customers(3));
      const run = await importFile(file, "--as", "identify", "--user-id", "id");
      expect(run.code).toBe(2);
      expect(collector.requests).toHaveLength(1);
      expect(run.stderr).toBe(
        `tessera import: the collector refused the write key (${status} authentication_error: Unknown write key); ` +
          "nothing was stored.\n--write-key (or TESSERA_WRITE_KEY) needs the source's write key, not a secret key.\n",
      );
      // Nothing was acknowledged: run it again with the right key, there is nothing to resume after.
      expect(run.stdout).not.toContain("--resume");
    }
  });
});
