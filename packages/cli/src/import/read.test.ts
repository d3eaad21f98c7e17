import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { type JsonPiece, jsonArrayElements, jsonLines, MAX_LINE_CHARS } from "./json-text";
import { InputError, type InputFormat, type InputOptions, type InputRow, openInput } from "./read";

const dir = mkdtempSync(path.join(tmpdir(), "tessera-read-"));
const noStdin = Readable.from([]);

function file(name: string, content: string | Buffer): string {
  const at = path.join(dir, name);
  writeFileSync(at, content);
  return at;
}

async function rows(at: string, format: InputFormat, more: Partial<InputOptions> = {}): Promise<InputRow[]> {
  const input = await openInput(at, { format, stdin: noStdin, ...more });
  const out: InputRow[] = [];
  for await (const row of input.rows) out.push(row);
  return out;
}

const record = (row: InputRow) => (row.kind === "csv" ? row.record : row.text);

const POS_CSV =
  "\uFEFFreceipt,customer , note\r\n" +
  'R1,C1,"Mug, large"\r\n' +
  "\r\n" +
  'R2,C2,"two\nlines ""quoted"""\r\n' +
  "R3,C3\r\n";

describe("openInput", () => {
  it("streams CSV records with quoting, embedded newlines, a BOM, CRLF and trimmed headers", async () => {
    expect(await rows(file("pos.csv", POS_CSV), "csv")).toEqual([
      {
        kind: "csv",
        row: 1,
        line: 2,
        record: { receipt: "R1", customer: "C1", note: "Mug, large" },
        problem: undefined,
      },
      {
        kind: "csv",
        row: 2,
        line: 4,
        record: { receipt: "R2", customer: "C2", note: 'two\nlines "quoted"' },
        problem: undefined,
      },
      {
        kind: "csv",
        row: 3,
        line: 6,
        record: { receipt: "R3", customer: "C3" },
        problem: "the row has 2 fields; the header has 3",
        cells: ["R3", "C3"],
      },
    ]);
  });

  it("reads columns separated by whatever the header uses: semicolons, tabs, pipes; quoted ones do not count", async () => {
    const seen: string[] = [];
    const onHeader = (_: string[], delimiter: string) => seen.push(delimiter);
    const records = async (name: string, content: string) =>
      (await rows(file(name, content), "csv", { onHeader })).map((r) => (r.kind === "csv" ? r.record : r.text));

    expect(await records("semi.csv", "\uFEFFid;total\r\nR1;59,90\r\n")).toEqual([{ id: "R1", total: "59,90" }]);
    expect(await records("tab.tsv", "\n\nid\ttotal\nR1\t5\n")).toEqual([{ id: "R1", total: "5" }]);
    expect(await records("pipe.csv", 'id|"a,b,c"\nR1|"x|y"\n')).toEqual([{ id: "R1", "a,b,c": "x|y" }]);
    expect(await records("one.csv", "id\nR1\n")).toEqual([{ id: "R1" }]);
    expect(seen).toEqual([";", "\t", "|", ","]);
  });

  it("reads with the separator it is given, whatever the header looks like", async () => {
    const at = file("given.csv", "id;note,more\nR1;a,b\n");
    expect((await rows(at, "csv", { delimiter: ";" })).map((r) => r.kind === "csv" && r.record)).toEqual([
      { id: "R1", "note,more": "a,b" },
    ]);
    expect((await rows(at, "csv", { delimiter: "," })).map((r) => r.kind === "csv" && r.record)).toEqual([
      { "id;note": "R1;a", more: "b" },
    ]);
  });

  it("decodes the encoding it is given, and UTF-16 by its byte-order mark", async () => {
    const latin = file("kunden.csv", Buffer.from("kunde,name\nK-1,M\xfcller\n", "latin1"));
    expect((await rows(latin, "csv", { encoding: "windows-1252" })).map(record)).toEqual([
      { kunde: "K-1", name: "Müller" },
    ]);
    // Excel's "Unicode Text": UTF-16LE with its mark, tab-separated.
    const unicode = file(
      "unicode.csv",
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("kunde\tname\r\nK-1\tZoë\r\n", "utf16le")]),
    );
    expect((await rows(unicode, "csv")).map(record)).toEqual([{ kunde: "K-1", name: "Zoë" }]);
  });

  it("reads a file by its byte-order mark when the --encoding given says otherwise, and says so", async () => {
    const bom = file("utf8-bom.csv", Buffer.from("\uFEFFkunde,name\nK-1,Müller\n", "utf8"));
    const notes: string[] = [];
    expect(
      (await rows(bom, "csv", { encoding: "windows-1252", onNote: (line) => notes.push(line) })).map(record),
    ).toEqual([{ kunde: "K-1", name: "Müller" }]);
    expect(notes).toEqual([
      "The file starts with a utf-8 byte-order mark: read as utf-8, not as --encoding windows-1252.",
    ]);
    const utf16 = file(
      "utf16-bom.csv",
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("kunde\nZoë\n", "utf16le")]),
    );
    expect((await rows(utf16, "csv", { encoding: "windows-1252" })).map(record)).toEqual([{ kunde: "Zoë" }]);
  });

  it("stops at the first line that is not UTF-8, naming the line, the byte and the likely encoding", async () => {
    const latin = file("latin.csv", Buffer.from("kunde,name\nK-1,Ada\nK-2,M\xfcller\n", "latin1"));
    await expect(rows(latin, "csv")).rejects.toThrow(
      /latin\.csv: line 3 is not UTF-8 \(byte 0xFC\): .* add --encoding windows-1252/,
    );
    const ndjson = file("latin.ndjson", Buffer.from('{"userId":"K-1"}\n{"userId":"M\xfcller"}\n', "latin1"));
    await expect(rows(ndjson, "ndjson")).rejects.toThrow(InputError);
    await expect(rows(ndjson, "ndjson")).rejects.toThrow(/line 2 is not UTF-8/);
    // Told an encoding the file is not in.
    await expect(rows(latin, "csv", { encoding: "utf-8" })).rejects.toThrow(
      /line 3 is not valid utf-8 text: is --encoding utf-8 the file's\?/,
    );
  });

  it("takes a character split across two chunks, and counts lines across chunks", async () => {
    const utf8 = Buffer.from("kunde,name\nK-1,Zoë\n");
    const text = Buffer.concat([utf8, Buffer.from("K-2,M\xfcller\n", "latin1")]);
    const split = utf8.indexOf(0xc3) + 1; // between the two bytes of ë
    const whole = await openInput("-", {
      format: "csv",
      stdin: Readable.from([utf8.subarray(0, split), utf8.subarray(split)]),
    });
    const out: InputRow[] = [];
    for await (const row of whole.rows) out.push(row);
    expect(out.map(record)).toEqual([{ kunde: "K-1", name: "Zoë" }]);

    const broken = await openInput("-", {
      format: "csv",
      stdin: Readable.from([text.subarray(0, 12), text.subarray(12)]),
    });
    await expect(
      (async () => {
        for await (const _ of broken.rows);
      })(),
    ).rejects.toThrow(/line 3 is not UTF-8 \(byte 0xFC\)/);
  });

  it("names rows by their line after a quoted field holding CRLF line breaks", async () => {
    const crlf = file(
      "notes.csv",
      'id,note,ts\r\nL-1,"a\r\nb\r\nc",2024-01-01\r\nL-2,x,bad\r\n\r\nL-3,"d\r\ne",z\r\nL-4,y,z\r\n',
    );
    expect((await rows(crlf, "csv")).map((r) => [r.row, r.line])).toEqual([
      [1, 2],
      [2, 5],
      [3, 7],
      [4, 9],
    ]);
  });

  it("passes over the lines above the header it is told to skip, counting lines as the file does", async () => {
    // A report: a title with an unbalanced quote, a date line, a blank line, then the table.
    const report = file("report.csv", 'Sales "March\nPeriod: 2024-03\n\nreceipt;total\nR1;5\n\nR2;7\n');
    expect(await rows(report, "csv", { skipLines: 2 })).toEqual([
      { kind: "csv", row: 1, line: 5, record: { receipt: "R1", total: "5" }, problem: undefined },
      { kind: "csv", row: 2, line: 7, record: { receipt: "R2", total: "7" }, problem: undefined },
    ]);
  });

  it("reads .gz files and gzip on stdin the same as plain text", async () => {
    const plain = await rows(file("pos2.csv", POS_CSV), "csv");
    expect(await rows(file("pos.csv.gz", gzipSync(POS_CSV)), "csv")).toEqual(plain);
    const input = await openInput("-", { format: "csv", stdin: Readable.from([gzipSync(POS_CSV)]) });
    const fromStdin: InputRow[] = [];
    for await (const row of input.rows) fromStdin.push(row);
    expect(fromStdin).toEqual(plain);
    expect(input.size).toBeUndefined();
  });

  it("counts the bytes read from the file against its size", async () => {
    const at = file("count.csv", POS_CSV);
    const input = await openInput(at, { format: "csv", stdin: noStdin });
    for await (const _ of input.rows) {
      // drain
    }
    expect(input.bytesRead()).toBe(Buffer.byteLength(POS_CSV));
    expect(input.size).toBe(Buffer.byteLength(POS_CSV));
  });

  it("places each row where it ends in the file, not where reading has got to", async () => {
    const positions = async (at: string, format: InputFormat, more: Partial<InputOptions> = {}) => {
      const input = await openInput(at, { format, stdin: noStdin, ...more });
      const out: number[] = [];
      for await (const _ of input.rows) out.push(input.position());
      return { out, size: input.size, end: input.position() };
    };
    const csv = "title\nid,n\nu1,1\nu2,ü\nu3,3\n";
    const skipped = await positions(file("at.csv", csv), "csv", { skipLines: 1 });
    expect(skipped.out).toEqual([csv.indexOf("u2"), Buffer.byteLength(csv) - 5, Buffer.byteLength(csv)]);
    const ndjson = '{"a":"é"}\n\n{"b":2}\n';
    expect((await positions(file("at.ndjson", ndjson), "ndjson")).out).toEqual([11, 20]);
    const array = '[{"a":"é"},\n {"b":2}]';
    expect((await positions(file("at.json", array), "json")).out).toEqual([12, 22]);
    // Gzipped, a place is estimated, below the size until the last row is out.
    const many = `id\n${Array.from({ length: 20000 }, (_, i) => `u${i}`).join("\n")}\n`;
    const gz = await positions(file("at.csv.gz", gzipSync(many)), "csv");
    expect(gz.out.slice(0, -1).every((at) => at < (gz.size ?? 0))).toBe(true);
    expect(gz.out[9999] / (gz.size ?? 1)).toBeCloseTo(0.5, 1);
    expect(gz.end).toBe(gz.size);
  });

  it("stops before the first row when the header callback refuses the header", async () => {
    const refuse = () => {
      throw new InputError("no such column");
    };
    await expect(rows(file("h.csv", "a,b\n1,2\n"), "csv", { onHeader: refuse })).rejects.toThrow(
      /h\.csv: no such column/,
    );
  });

  it("keeps a quote inside an unquoted cell as text, and reads the rows after it", async () => {
    const read = await rows(file("stray.csv", 'id,item\nu1,TV 55" Samsung\nu2,"x"y\nu3,Mug\n'), "csv");
    expect(read.map((r) => r.kind === "csv" && [r.row, r.line, r.record, r.problem])).toEqual([
      [1, 2, { id: "u1", item: 'TV 55" Samsung' }, undefined],
      [2, 3, { id: "u2", item: '"x"y' }, undefined],
      [3, 4, { id: "u3", item: "Mug" }, undefined],
    ]);
  });

  it("hands out a row whose quote is never closed as one row with a problem, then reads the lines after it", async () => {
    const read = await rows(file("broken.csv", 'a,b\n1,2\n"x,3\n4,5\n'), "csv");
    expect(read).toEqual([
      { kind: "csv", row: 1, line: 2, record: { a: "1", b: "2" }, problem: undefined },
      {
        kind: "csv",
        row: 2,
        line: 3,
        record: {},
        problem: expect.stringMatching(
          /^a quote opened on line 3 is never closed; the lines after it were read as rows/,
        ),
        raw: '"x,3\n',
      },
      { kind: "csv", row: 3, line: 4, record: { a: "4", b: "5" }, problem: undefined },
    ]);
  });

  it("keeps quoted cells with line breaks whole around rows whose quote is not closed", async () => {
    const csv =
      'id,note,n\r\n1,"a\r\nb",1\r\n\r\n2,"Jane,x,2\r\n3,"c\r\nd",3\r\n4,"e,""f""\r\ng",4\r\n5,"x\r\ny",z,"k,5\r\n6,ok,6\r\n7,"Bob\r\n';
    const input = await openInput(file("notes.csv", csv), { format: "csv", stdin: noStdin });
    const read: [number, number, unknown, string | undefined][] = [];
    const ends: number[] = [];
    for await (const r of input.rows) {
      read.push([r.row, r.line, r.kind === "csv" && (r.raw ?? r.record), r.kind === "csv" ? r.problem : undefined]);
      ends.push(input.position());
    }
    expect(read).toEqual([
      [1, 2, { id: "1", note: "a\r\nb", n: "1" }, undefined],
      // Its quote runs to the one that opens the next row's cell.
      [2, 5, '2,"Jane,x,2\r\n', expect.stringMatching(/^a quote opened on line 5 is not closed on its row/)],
      [3, 6, { id: "3", note: "c\r\nd", n: "3" }, undefined],
      [4, 8, { id: "4", note: 'e,"f"\r\ng', n: "4" }, undefined],
      // The quote that is never closed opens below a quoted cell with a line break, in the same row.
      [5, 10, '5,"x\r\ny",z,"k,5\r\n', expect.stringMatching(/^a quote opened on line 11 is not closed on its row/)],
      [6, 12, { id: "6", note: "ok", n: "6" }, undefined],
      [7, 13, '7,"Bob\r\n', expect.stringMatching(/^a quote opened on line 13 is never closed/)],
    ]);
    // Each row ends where its own lines do, not at the end of the file its quote ran to.
    const at = (text: string) => Buffer.byteLength(csv.slice(0, csv.indexOf(text)));
    expect(ends).toEqual([at("\r\n2,"), at("3,"), at("4,"), at("5,"), at("6,"), at("7,"), csv.length]);
  });

  it("rejects the row whose quote ran on to the next quoted cell below, and reads the lines it took in", async () => {
    // No quote is left open at the end: the quote of row 7 took rows 8 and 9 into one cell, up to "Bob", and the
    // row read so had as many fields as the header, so it was accepted with rows 8 and 9 gone.
    const csv = 'id,name,email\n6,Ann,a@x\n7,"Jane,jane@x.com\n8,Cy,c@x\n9,"Bob",b@x\n10,"Di\nDo",d@x\n';
    const read = await rows(file("swallowed.csv", csv), "csv");
    expect(read.map((r) => r.kind === "csv" && [r.row, r.line, r.raw ?? r.record, r.problem])).toEqual([
      [1, 2, { id: "6", name: "Ann", email: "a@x" }, undefined],
      [2, 3, '7,"Jane,jane@x.com\n', expect.stringMatching(/^a quote opened on line 3 is not closed on its row/)],
      [3, 4, { id: "8", name: "Cy", email: "c@x" }, undefined],
      [4, 5, { id: "9", name: "Bob", email: "b@x" }, undefined],
      [5, 6, { id: "10", name: "Di\nDo", email: "d@x" }, undefined],
    ]);
  });

  it("passes over rows whose cells are all empty, counting them, and names the others by their own line", async () => {
    const input = await openInput(file("blank.csv", "a,b\n,\n1,2\n , \n3,4\n,,\n"), { format: "csv", stdin: noStdin });
    const read: InputRow[] = [];
    for await (const row of input.rows) read.push(row);
    expect(read.map((r) => [r.row, r.line, record(r)])).toEqual([
      [1, 3, { a: "1", b: "2" }],
      [2, 5, { a: "3", b: "4" }],
    ]);
    expect(input.blankRows()).toBe(3);
  });

  it("fails when the header itself cannot be read", async () => {
    await expect(rows(file("head.csv", 'a,"b\n1,2\n'), "csv")).rejects.toThrow(
      expect.objectContaining({ name: "InputError", message: expect.stringMatching(/head\.csv: .*Quote Not Closed/) }),
    );
  });

  it("reads NDJSON lines, skipping blank ones and keeping line numbers", async () => {
    const read = await rows(file("e.ndjson", '{"a":1}\n\n  {"b":2}\r\nnot json\n{"c":3}'), "ndjson");
    expect(read.map((r) => r.kind === "json" && [r.row, r.line, r.text])).toEqual([
      [1, 1, '{"a":1}'],
      [2, 3, '{"b":2}'],
      [3, 4, "not json"],
      [4, 5, '{"c":3}'],
    ]);
  });

  it("reads a .json array element by element, or NDJSON under a .json name", async () => {
    const array = await rows(file("a.json", '\n [ {"a":"],{"}, {"b":[1,{"c":"\\""}]} ,\n{"d":null} ]\n'), "json");
    expect(array.map((r) => r.kind === "json" && r.text)).toEqual([
      '{"a":"],{"}',
      '{"b":[1,{"c":"\\""}]}',
      '{"d":null}',
    ]);
    const lines = await rows(file("l.json", '{"a":1}\n{"b":2}\n'), "json");
    expect(lines.map((r) => r.kind === "json" && r.text)).toEqual(['{"a":1}', '{"b":2}']);
  });

  it("says when the file cannot be read", async () => {
    await expect(rows(path.join(dir, "missing.csv"), "csv")).rejects.toThrow(/cannot read .*missing\.csv/);
    await expect(rows(dir, "csv")).rejects.toThrow(/is not a file/);
  });
});

describe("jsonLines", () => {
  const read = async (chunks: AsyncIterable<string> | Iterable<string>) => {
    const pieces: JsonPiece[] = [];
    for await (const piece of jsonLines(chunks)) pieces.push(piece);
    return pieces;
  };

  it("splits lines across any chunk boundaries, counting lines and bytes", async () => {
    const text = '{"a":"é"}\n\n  {"b":2}\r\n\n{"c":3}';
    for (let size = 1; size <= text.length; size++) {
      const chunks = text.match(new RegExp(`[\\s\\S]{1,${size}}`, "g")) ?? [];
      expect(await read(chunks)).toEqual([
        { text: '{"a":"é"}', line: 1, end: 11 },
        { text: '{"b":2}', line: 3, end: 23 },
        { text: '{"c":3}', line: 5, end: 31 },
      ]);
    }
  });

  it("rejects a line longer than it keeps, keeping only its beginning, and reads the lines after it", async () => {
    const chunk = "x".repeat(64 * 1024);
    const longLine = 4 * MAX_LINE_CHARS;
    async function* file() {
      yield '{"a":1}\n{"blob":"';
      for (let sent = 9; sent < longLine; sent += chunk.length) yield chunk.slice(0, longLine - sent);
      yield '\n{"b":2}\n';
    }
    const [first, long, after, ...none] = await read(file());
    expect(first).toEqual({ text: '{"a":1}', line: 1, end: 8 });
    expect(long).toEqual({
      text: expect.stringMatching(/^\{"blob":"x+…$/),
      line: 2,
      end: 8 + longLine + 1,
      problem: "line longer than any message can be (4,194,304 bytes; a message is at most 32,768): not read",
    });
    // Only its beginning is kept: memory for the line stops growing at the bound, however long the line.
    expect(long.text.length).toBeLessThanOrEqual(201);
    expect(after).toEqual({ text: '{"b":2}', line: 3, end: 8 + longLine + 1 + 8 });
    expect(none).toEqual([]);
  });

  it("rejects a last line without a line break that is too long the same way", async () => {
    const [long] = await read(["{", "y".repeat(MAX_LINE_CHARS)]);
    expect(long).toMatchObject({ line: 1, end: MAX_LINE_CHARS + 1, problem: expect.stringMatching(/^line longer/) });
  });
});

describe("jsonArrayElements", () => {
  it("splits elements across any chunk boundaries", async () => {
    const text = '[{"s":"a,b]"},[1,2],"x",3 ,{"n":{"m":[]}}]';
    const expected = ['{"s":"a,b]"}', "[1,2]", '"x"', "3", '{"n":{"m":[]}}'];
    for (let size = 1; size <= text.length; size++) {
      const chunks = text.match(new RegExp(`[\\s\\S]{1,${size}}`, "g")) ?? [];
      const pieces: string[] = [];
      for await (const piece of jsonArrayElements(chunks)) pieces.push(piece.text);
      expect(pieces).toEqual(expected);
    }
  });

  it("rejects an element longer than it keeps, keeping only its beginning, and reads the elements after it", async () => {
    const chunk = "x".repeat(64 * 1024);
    const longElement = 4 * MAX_LINE_CHARS;
    async function* file() {
      yield '[{"a":1},\n{"blob":"';
      for (let sent = 9; sent < longElement - 2; sent += chunk.length) yield chunk.slice(0, longElement - 2 - sent);
      yield '"},\n{"b":2}]';
    }
    const pieces: JsonPiece[] = [];
    for await (const piece of jsonArrayElements(file())) pieces.push(piece);
    const [first, long, after, ...none] = pieces;
    expect(first).toEqual({ text: '{"a":1}', line: 1, end: 9 });
    expect(long).toEqual({
      text: expect.stringMatching(/^\{"blob":"x+…$/),
      line: 2,
      end: 10 + longElement + 1,
      problem: "element longer than any message can be (4,194,304 bytes; a message is at most 32,768): not read",
    });
    // Only its beginning is kept: memory for the element stops growing at the bound, however long it is.
    expect(long.text.length).toBeLessThanOrEqual(201);
    expect(after).toEqual({ text: '{"b":2}', line: 3, end: 10 + longElement + 1 + 9 });
    expect(none).toEqual([]);
  });

  it("refuses text that is not one array", async () => {
    const drain = async (chunks: string[]) => {
      for await (const _ of jsonArrayElements(chunks)) {
        // drain
      }
    };
    await expect(drain(['{"a":1}'])).rejects.toThrow(/must be an array of messages or one per line/);
    await expect(drain(['[{"a":1}'])).rejects.toThrow(/not closed/);
    await expect(drain(["[1] x"])).rejects.toThrow(/after the closing \]/);
  });
});
