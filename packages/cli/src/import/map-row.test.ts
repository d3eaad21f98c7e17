import { describe, expect, it } from "vitest";
import {
  CellProblem,
  type CsvMapping,
  cellTyping,
  headerProblem,
  mapCsvRow,
  numberCell,
  timestampCell,
  typedCell,
  unnamedColumns,
} from "./map-row";

const mapping = (over: Partial<CsvMapping> = {}): CsvMapping => ({
  as: "track",
  event: "Order Completed",
  set: {},
  strings: [],
  ignore: [],
  rename: {},
  ...over,
});

describe("typedCell", () => {
  it("types plain numerals of up to 15 digits as numbers", () => {
    expect(["42", "-3", "0", "12.50", "0.5", "-0.25", "123456789012345"].map(typedCell)).toEqual([
      42, -3, 0, 12.5, 0.5, -0.25, 123456789012345,
    ]);
  });

  it("keeps leading zeros, long digit strings and other notations as text", () => {
    const cells = [
      "0042",
      "007",
      "4111111111111111",
      "1234567890123456",
      "+33612345678",
      "1e5",
      "1,000",
      ".5",
      "5.",
      "00.5",
      "1 000",
      "0x1F",
      "Infinity",
      "NaN",
    ];
    expect(cells.map(typedCell)).toEqual(cells);
  });

  it("reads true and false in any case as booleans, and nothing else", () => {
    expect(["true", "FALSE", "True", "yes", "1", "null"].map(typedCell)).toEqual([true, false, true, "yes", 1, "null"]);
  });

  it("trims cells and leaves empty ones out", () => {
    expect([typedCell("  7 "), typedCell(" Mug "), typedCell(""), typedCell("   ")]).toEqual([
      7,
      "Mug",
      undefined,
      undefined,
    ]);
  });
});

describe("cellTyping with a decimal comma", () => {
  const typed = cellTyping(true);

  it("reads a comma as the decimal mark and types the rest by the same rule", () => {
    expect(["12,50", "-0,25", "42", "0", " 7,5 ", "TRUE", ""].map(typed)).toEqual([
      12.5,
      -0.25,
      42,
      0,
      7.5,
      true,
      undefined,
    ]);
  });

  it("keeps dots, grouped thousands and other notations as text", () => {
    const cells = ["12.50", "1.250", "1.234,50", "1 000,5", "0042", ",5", "5,", "1,2,3", "1234567890123456,5"];
    expect(cells.map(typed)).toEqual(cells);
  });

  it("is what mapCsvRow types cells with when the mapping says so", () => {
    const row = { id: "R1", total: "59,90", ref: "12.50" };
    const message = mapCsvRow(row, mapping({ userId: "id", decimalComma: true }), () => "h");
    expect(message.properties).toEqual({ total: 59.9, ref: "12.50" });
    expect(mapCsvRow(row, mapping({ userId: "id" }), () => "h").properties).toEqual({ total: "59,90", ref: 12.5 });
  });
});

describe("timestampCell", () => {
  it("turns epoch seconds and milliseconds into ISO-8601 and passes the rest on", () => {
    expect(timestampCell("1709287200")).toBe("2024-03-01T10:00:00.000Z");
    expect(timestampCell("1709287200123")).toBe("2024-03-01T10:00:00.123Z");
    expect(timestampCell(" 2024-03-01 10:15 ")).toBe("2024-03-01 10:15");
    expect(timestampCell("")).toBeUndefined();
  });
  it("reads a --timestamp-format in UTC, or in the --timezone, winter and summer time alike", () => {
    const de = { timestampFormat: "dd.MM.yyyy HH:mm" };
    expect(timestampCell("01.03.2024 10:15", de)).toBe("2024-03-01T10:15:00.000Z");
    expect(timestampCell("01.03.2024 10:15", { ...de, timezone: "Europe/Berlin" })).toBe("2024-03-01T09:15:00.000Z");
    expect(timestampCell("01.07.2024 10:15", { ...de, timezone: "Europe/Berlin" })).toBe("2024-07-01T08:15:00.000Z");
    const us = { timestampFormat: "M/d/yyyy h:mm a", timezone: "America/New_York" };
    expect(timestampCell("3/1/2024 2:05 PM", us)).toBe("2024-03-01T19:05:00.000Z");
    expect(timestampCell(" ", de)).toBeUndefined();
  });

  it("refuses a cell that does not match the --timestamp-format, naming both", () => {
    const de = { timestampFormat: "dd.MM.yyyy HH:mm" };
    expect(() => timestampCell("2024-03-01 10:15", de)).toThrow(CellProblem);
    expect(() => timestampCell("31.02.2024 10:15", de)).toThrow(
      'timestamp "31.02.2024 10:15" does not match --timestamp-format "dd.MM.yyyy HH:mm"',
    );
  });

  it("passes an offset of hours or hours and minutes on as written: the collector reads every ISO 8601 form", () => {
    expect(timestampCell("2024-03-01T10:00:00+01")).toBe("2024-03-01T10:00:00+01");
    expect(timestampCell("2024-03-01T10:00+0530")).toBe("2024-03-01T10:00+0530");
    expect(timestampCell("2024-03-01T10:00:00+01", { timezone: "Europe/Berlin" })).toBe("2024-03-01T09:00:00.000Z");
  });

  it("reads a zone-less ISO time in the --timezone; an offset in the text wins", () => {
    const berlin = { timezone: "Europe/Berlin" };
    expect(timestampCell("2024-03-01 10:15", berlin)).toBe("2024-03-01T09:15:00.000Z");
    expect(timestampCell("2024-03-01T10:15:00", berlin)).toBe("2024-03-01T09:15:00.000Z");
    expect(timestampCell("2024-03-01", berlin)).toBe("2024-02-29T23:00:00.000Z");
    expect(timestampCell("2024-03-01T10:15:00Z", berlin)).toBe("2024-03-01T10:15:00.000Z");
    expect(timestampCell("2024-03-01T10:15:00+05:00", berlin)).toBe("2024-03-01T05:15:00.000Z");
    // Not ISO: passed on for the collector's own reason.
    expect(timestampCell("yesterday", berlin)).toBe("yesterday");
  });
});

describe("mapCsvRow", () => {
  const record = {
    receipt_id: "R-1",
    customer_id: " C-42 ",
    email: "Jane@Example.com",
    phone: "+14155550101",
    total: "59.90",
    store: "0042",
    note: "",
    paid: "true",
    at: "2024-03-01T10:15:00Z",
  };

  it("maps a track row: ids, timestamp, typed properties, constants, email and phone in context.traits", () => {
    const message = mapCsvRow(
      record,
      mapping({
        userId: "customer_id",
        email: "email",
        phone: "phone",
        timestamp: "at",
        messageId: "receipt_id",
        set: { channel: "pos", total: 1 },
      }),
      () => "imp-hash",
    );
    expect(message).toEqual({
      type: "track",
      event: "Order Completed",
      userId: "C-42",
      messageId: "R-1",
      timestamp: "2024-03-01T10:15:00Z",
      properties: { total: 1, store: "0042", paid: true, channel: "pos" },
      context: { traits: { email: "Jane@Example.com", phone: "+14155550101" } },
    });
  });

  it("maps an identify row: email, phone and the other columns become traits", () => {
    const message = mapCsvRow(
      record,
      mapping({ as: "identify", event: undefined, userId: "customer_id", email: "email", phone: "phone" }),
      () => "imp-hash",
    );
    expect(message).toEqual({
      type: "identify",
      userId: "C-42",
      messageId: "imp-hash",
      traits: {
        email: "Jane@Example.com",
        phone: "+14155550101",
        receipt_id: "R-1",
        total: 59.9,
        store: "0042",
        paid: true,
        at: "2024-03-01T10:15:00Z",
      },
    });
  });

  it("sends external ids in context.externalIds; a row known only by one gets an anonymousId made from it", () => {
    const pos = mapping({ externalIds: { loyalty_number: "card", crm_id: "crm" }, email: "email" });
    expect(mapCsvRow({ card: " 0042-7 ", crm: "", email: "a@b.co", total: "5" }, pos, () => "imp-1")).toEqual({
      type: "track",
      event: "Order Completed",
      anonymousId: "loyalty_number:0042-7",
      messageId: "imp-1",
      properties: { total: 5 },
      context: {
        traits: { email: "a@b.co" },
        externalIds: [{ id: "0042-7", type: "loyalty_number", collection: "users", encoding: "none" }],
      },
    });
    // With an id of its own the row keeps it; empty id cells send nothing.
    const known = mapping({ as: "identify", event: undefined, userId: "id", externalIds: { crm_id: "crm" } });
    expect(mapCsvRow({ id: "C-1", crm: "H-9" }, known, () => "imp-2")).toEqual({
      type: "identify",
      userId: "C-1",
      messageId: "imp-2",
      traits: {},
      context: { externalIds: [{ id: "H-9", type: "crm_id", collection: "users", encoding: "none" }] },
    });
    expect(mapCsvRow({ id: "C-1", crm: "" }, known, () => "imp-3")).not.toHaveProperty("context");
  });

  it("makes no anonymousId of an external id the default rules block, so walk-in sales do not become one profile", () => {
    const till = mapping({ externalIds: { pos_customer: "customer", loyalty_number: "card" }, email: "email" });
    // The placeholder customer is blocked: the row goes by the next external id that is usable.
    expect(mapCsvRow({ customer: "0", card: "L-1" }, till, () => "imp-1")).toMatchObject({
      anonymousId: "loyalty_number:L-1",
    });
    // None usable: refused with the reason, rather than sent as anonymousId "pos_customer:0", which every walk-in
    // sale would share (the email is an identifier, not an id to send a message by).
    expect(() => mapCsvRow({ customer: "0", email: "a@b.co" }, till, () => "imp-2")).toThrow(
      new CellProblem(
        'no usable identifier to send the row by (pos_customer "0": pos_customer value is blocked by the rule ' +
          "/^[0-]*$/i; an anonymousId made of a blocked value would join every row that has it into one profile)",
      ),
    );
  });

  it("keeps --string columns as text, drops --ignore columns and renames columns", () => {
    const message = mapCsvRow(
      { id: "1", sku: "12345", total: "9", secret: "x" },
      mapping({ anonymousId: "id", strings: ["sku"], ignore: ["secret"], rename: { total: "revenue" } }),
      () => "imp-hash",
    );
    expect(message.properties).toEqual({ sku: "12345", revenue: 9 });
    expect(message.anonymousId).toBe("1");
  });

  it("refuses a row whose mapped timestamp cell is empty, rather than letting it be dated at the import", () => {
    const dated = mapping({ userId: "customer_id", timestamp: "purchased_at" });
    expect(() => mapCsvRow({ customer_id: "CE1", total: "20", purchased_at: " " }, dated, () => "imp-hash")).toThrow(
      new CellProblem(
        '--timestamp column "purchased_at" is empty (the row would be dated at the import, not when it happened)',
      ),
    );
    const undated = mapping({ userId: "customer_id" });
    expect(
      mapCsvRow({ customer_id: "CE1", total: "20", purchased_at: "" }, undated, () => "imp-hash"),
    ).not.toHaveProperty("timestamp");
  });

  it("sends columns named like built-in object properties under their own names, and reads only a row's own cells", () => {
    // Parsed as csv-parse builds records: `__proto__` and `constructor` are the row's own keys.
    const row = JSON.parse('{"id":"1","__proto__":"a","constructor":"b","toString":"c","hasOwnProperty":"d"}');
    const message = mapCsvRow(row, mapping({ as: "identify", event: undefined, userId: "id" }), () => "imp-hash");
    expect(JSON.stringify(message.traits)).toBe(
      '{"__proto__":"a","constructor":"b","toString":"c","hasOwnProperty":"d"}',
    );
    // A row too short to hold the mapped column: no cell, not the function every object inherits.
    const short = mapping({ anonymousId: "id", userId: "constructor", timestamp: "toString" });
    expect(() => mapCsvRow(JSON.parse('{"id":"1"}'), short, () => "imp-hash")).toThrow(
      new CellProblem(
        '--timestamp column "toString" is empty (the row would be dated at the import, not when it happened)',
      ),
    );
    expect(
      mapCsvRow(JSON.parse('{"id":"1"}'), mapping({ anonymousId: "id", userId: "constructor" }), () => "x"),
    ).toEqual({ type: "track", event: "Order Completed", anonymousId: "1", messageId: "x", properties: {} });
    // A --set constant of such a name is sent like any other.
    const set = JSON.parse('{"__proto__":"pos"}');
    expect(JSON.stringify(mapCsvRow({ id: "1" }, mapping({ anonymousId: "id", set }), () => "x").properties)).toBe(
      '{"__proto__":"pos"}',
    );
  });

  it("keeps the --email and --phone values on identify rows over any trait of the same name", () => {
    // `headerProblem` refuses such a header; were it to get past, the mapped identifier still wins.
    const message = mapCsvRow(
      { id: "1", email: "personal@example.com", work_email: "jane@work.example", phone: "+1 555", mobile: "+4915" },
      mapping({ as: "identify", event: undefined, userId: "id", email: "work_email", phone: "mobile" }),
      () => "imp-hash",
    );
    expect(message.traits).toEqual({ email: "jane@work.example", phone: "+4915" });
  });

  it("refuses a row whose messageId cell is empty, and leaves out empty ids", () => {
    const ids = mapping({ userId: "id", anonymousId: "anon", messageId: "mid" });
    expect(() => mapCsvRow({ id: "", anon: "a-1", mid: " " }, ids, () => "imp-hash")).toThrow(
      new CellProblem('--message-id column "mid" is empty'),
    );
    const message = mapCsvRow({ id: "", anon: "a-1", mid: "M-1" }, ids, () => "imp-hash");
    expect(message).toMatchObject({ anonymousId: "a-1", messageId: "M-1" });
    expect(message).not.toHaveProperty("userId");
    expect(message).not.toHaveProperty("context");
  });
});

describe("numberCell", () => {
  it("reads money as spreadsheets write it: currency signs, grouped thousands, accounting negatives", () => {
    const read = (cell: string) => numberCell(cell, false, "total");
    expect(["$1,234.50", "1234.5", "USD 12", "£ 7.00", "(12.50)", "-$3", "1'234.5", " "].map(read)).toEqual([
      1234.5,
      1234.5,
      12,
      7,
      -12.5,
      -3,
      1234.5,
      undefined,
    ]);
    const comma = (cell: string) => numberCell(cell, true, "summe");
    expect(["59,90 €", "1.234,50", "(12,50 €)", "1\u202f234,5", "59,90 EUR"].map(comma)).toEqual([
      59.9, 1234.5, -12.5, 1234.5, 59.9,
    ]);
  });

  it("refuses what is not a number, or grouped other than in threes, with a hint for decimal commas", () => {
    expect(() => numberCell("12,50", false, "total")).toThrow(
      '--number total: "12,50" is not a number (written with a decimal comma? add --decimal-comma)',
    );
    expect(() => numberCell("n/a", false, "total")).toThrow('--number total: "n/a" is not a number');
    expect(() => numberCell("1.2.3", true, "summe")).toThrow(CellProblem);
    expect(() => numberCell("1234567890123456", false, "total")).toThrow(CellProblem);
  });

  it("is how mapCsvRow reads --number columns", () => {
    const message = mapCsvRow(
      { id: "1", total: "$1,234.50" },
      mapping({ anonymousId: "id", numbers: ["total"] }),
      () => "x",
    );
    expect(message.properties).toEqual({ total: 1234.5 });
  });
});

describe("headerProblem", () => {
  it("names a mapped column the file lacks, with the columns it has", () => {
    expect(headerProblem(["id", "mail"], mapping({ userId: "id", email: "email" }))).toBe(
      '--email "email": the file has no such column (its columns: "id", "mail")',
    );
  });

  it("checks the columns of external ids like any mapped column", () => {
    expect(headerProblem(["card"], mapping({ externalIds: { loyalty_number: "card_no" } }))).toBe(
      '--external-id loyalty_number "card_no": the file has no such column (its columns: "card")',
    );
  });

  it("refuses a --set key that a column also fills (by its name or its rename), unless the column is left out", () => {
    const pos = (over: Partial<CsvMapping>) => mapping({ userId: "id", set: { channel: "pos" }, ...over });
    expect(headerProblem(["id", "channel"], pos({}))).toBe(
      '--set channel: the file\'s column "channel" fills that property too, and the constant would replace every ' +
        "row's value; --ignore channel to send the constant, or leave out --set channel",
    );
    expect(headerProblem(["id", "Sales Channel"], pos({ rename: { "Sales Channel": "channel" } }))).toBe(
      '--set channel: the file\'s column "Sales Channel" (renamed "channel") fills that property too, and the ' +
        'constant would replace every row\'s value; --ignore "Sales Channel" to send the constant, or leave out --set channel',
    );
    expect(headerProblem(["id", "channel"], pos({ ignore: ["channel"] }))).toBeNull();
    // A mapped column is no property: `--message-id channel` sends it as the messageId, not as channel.
    expect(headerProblem(["id", "channel"], pos({ messageId: "channel" }))).toBeNull();
    const identify = mapping({
      as: "identify",
      event: undefined,
      userId: "id",
      email: "mail",
      set: { email: "x@y.z" },
    });
    expect(headerProblem(["id", "mail"], identify)).toBe(
      '--set email: --email "mail" fills that trait too, and the constant would replace every row\'s value; ' +
        "leave out --set email or --email",
    );
    // On track rows email goes to context.traits, not properties: no clash.
    expect(headerProblem(["id", "mail"], { ...identify, as: "track", event: "E" })).toBeNull();
  });

  it("refuses on identify rows a column that fills the email or phone trait beside --email or --phone", () => {
    const crm = (over: Partial<CsvMapping>) =>
      mapping({ as: "identify", event: undefined, userId: "id", email: "work_email", ...over });
    expect(headerProblem(["id", "email", "work_email"], crm({}))).toBe(
      '--email work_email: the file\'s column "email" fills the trait email too, and would replace the --email ' +
        'column\'s value on every row; --ignore email to send "work_email" as the email, or send the column under ' +
        'another name with --map ("rename": {"email": "other_email"})',
    );
    expect(headerProblem(["id", "phone", "mobile"], crm({ email: undefined, phone: "mobile" }))).toBe(
      '--phone mobile: the file\'s column "phone" fills the trait phone too, and would replace the --phone ' +
        'column\'s value on every row; --ignore phone to send "mobile" as the phone, or send the column under ' +
        'another name with --map ("rename": {"phone": "other_phone"})',
    );
    // A rename that makes a column `email` clashes the same way.
    const renamed = crm({ rename: { "Private Mail": "email" } });
    expect(headerProblem(["id", "Private Mail", "work_email"], renamed)).toBe(
      '--email work_email: the file\'s column "Private Mail" (renamed "email") fills the trait email too, and would ' +
        'replace the --email column\'s value on every row; --ignore "Private Mail" to send "work_email" as the ' +
        'email, or send the column under another name with --map ("rename": {"Private Mail": "other_email"})',
    );
    // Either way out is taken: the column left out, or sent under another name.
    expect(headerProblem(["id", "email", "work_email"], crm({ ignore: ["email"] }))).toBeNull();
    expect(headerProblem(["id", "email", "work_email"], crm({ rename: { email: "private_email" } }))).toBeNull();
    // The email column mapped by --email itself, or a track row (email in context.traits): no clash.
    expect(headerProblem(["id", "email"], crm({ email: "email" }))).toBeNull();
    expect(headerProblem(["id", "email", "work_email"], crm({ as: "track", event: "E" }))).toBeNull();
  });

  it("names a column called like a built-in object property by its own name", () => {
    const pos = mapping({ userId: "id", set: { channel: "pos" } });
    expect(headerProblem(["id", "constructor", "__proto__"], pos)).toBeNull();
    expect(headerProblem(["id", "constructor"], mapping({ userId: "id", set: { constructor: "x" } }))).toMatch(
      /^--set constructor: the file's column "constructor" fills that property too/,
    );
  });

  it("refuses duplicate column names, leaves unnamed ones out and accepts a good header", () => {
    expect(headerProblem(["id", "id"], mapping({ userId: "id" }))).toBe('the header names column "id" twice');
    expect(headerProblem(["id", "", ""], mapping({ userId: "id" }))).toBeNull();
    expect(unnamedColumns(["id", "", "name", ""])).toEqual([2, 4]);
    expect(headerProblem(["", "mail"], mapping({ userId: "id" }))).toBe(
      '--user-id "id": the file has no such column (its columns: "mail")',
    );
    expect(headerProblem(["id", "sku"], mapping({ userId: "id", strings: ["sku"] }))).toBeNull();
    expect(headerProblem(["id"], mapping({ userId: "id", ignore: ["secret"] }))).toBe(
      '--ignore "secret": the file has no such column (its columns: "id")',
    );
  });
});
