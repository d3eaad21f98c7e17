import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { MAX_BATCH_MESSAGES } from "@tessera/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FakeCollector, type RecordedRequest, startFakeCollector } from "../../test-support/fake-collector";
import { runCli } from "../../test-support/run-cli";

/** `tessera import` when the collector pushes back or fails: retries, the checkpoint, `--resume`. */
let collector: FakeCollector;
let dir: string;
beforeEach(async () => {
  collector = await startFakeCollector();
  dir = mkdtempSync(path.join(tmpdir(), "tessera-resume-"));
});
afterEach(async () => {
  await collector.close();
});

const ROWS = MAX_BATCH_MESSAGES * 3 + 100;
function customersFile(): string {
  const lines = ["id,spent"];
  for (let i = 1; i <= ROWS; i++) lines.push(`u${i},${i}`);
  const file = path.join(dir, "customers.csv");
  writeFileSync(file, lines.join("\n"));
  return file;
}
const importArgs = (file: string, ...more: string[]) => [
  "import",
  file,
  "--host",
  collector.url,
  "--write-key",
  "wk_test",
  "--as",
  "identify",
  "--user-id",
  "id",
  // Full batches: the checkpoint arithmetic below counts in them.
  "--batch-size",
  String(MAX_BATCH_MESSAGES),
  ...more,
];
const userIds = (requests: RecordedRequest[]) => requests.flatMap((r) => r.body.batch.map((m) => m.userId as string));
const firstUser = (request: RecordedRequest) => request.body.batch[0].userId;
const readCheckpoint = (file: string) => JSON.parse(readFileSync(`${file}.checkpoint.json`, "utf8"));

describe("tessera import under failures", () => {
  it("retries 429 after Retry-After, a 503 and a dropped connection, and stores every row once", async () => {
    collector.options.answer = (_request, n) => {
      if (n === 0)
        return {
          status: 429,
          headers: { "retry-after": "2" },
          body: { error: { code: "rate_limit_error", message: "slow" } },
        };
      if (n === 1) return { status: 503, body: { error: { code: "internal_error", message: "retry" } } };
      if (n === 2) return "hang-up";
      return "store";
    };
    const file = customersFile();
    const run = await runCli(importArgs(file, "--concurrency", "1"));
    expect(run.code).toBe(0);
    expect(run.sleeps[0]).toBe(2000);
    expect(run.sleeps).toHaveLength(3);
    expect(run.stderr).toContain("rows 1–2500: 429 rate_limit_error: slow; retrying in 2.0 s (attempt 2 of 10)");
    expect(run.stderr).toContain("rows 1–2500: 503 internal_error: retry; retrying in");
    expect(run.stderr).toMatch(/rows 1–2500: network error \(.+\); retrying in/);
    expect(collector.stored.size).toBe(ROWS);
    expect(readCheckpoint(file)).toMatchObject({ rows: ROWS, accepted: ROWS, rejected: 0 });
  });

  it("counts as its own the rows a batch stored before a 429 or a cut connection, and keeps their warnings", async () => {
    // The collector stores the batch, then answers 429 (its deadline passed while it worked) or the connection is
    // cut before the answer arrives: the retry finds every row held.
    for (const [name, afterStoring] of [
      ["late.csv", { status: 429, headers: { "retry-after": "1" }, body: { error: { code: "rate_limit_error" } } }],
      ["cut.csv", "hang-up"],
    ] as const) {
      collector.options.answer = (request, n) => {
        if (n > 0) return "store";
        for (const message of request.body.batch) collector.stored.set(message.messageId as string, message);
        return afterStoring;
      };
      collector.requests.length = 0;
      const file = path.join(dir, name);
      writeFileSync(file, "id,email\nP-1,jane@\nP-2,bo@example.com\n");
      const crm = ["--as", "identify", "--user-id", "id", "--email", "email"];
      const run = await runCli(["import", file, "--host", collector.url, "--write-key", "wk_test", ...crm]);
      expect(run.code).toBe(0);
      expect(collector.requests).toHaveLength(2);
      expect(run.stdout).toContain(`${file}: 2 rows, 2 accepted, 0 rejected`);
      expect(run.stdout).not.toContain("already stored");
      const checkpoint = readCheckpoint(file);
      expect(checkpoint).toMatchObject({ rows: 2, accepted: 2, warned: 1 });
      expect(checkpoint.duplicates ?? 0).toBe(0);
      const warned = readFileSync(`${file}.warnings.ndjson`, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line));
      expect(warned.map((w) => [w.row, w.warnings])).toEqual([
        [1, ['email "jane@": email is not an address (nothing after the @)']],
      ]);
    }
  });

  it("stops at a batch that keeps failing, checkpoints the rows before it, and --resume sends only the rest", async () => {
    const failing = "u2501";
    collector.options.answer = (request) =>
      firstUser(request) === failing
        ? { status: 500, body: { error: { code: "internal_error", message: "boom" } } }
        : "store";
    const file = customersFile();
    const first = await runCli(importArgs(file, "--concurrency", "1"));
    expect(first.code).toBe(3);
    expect(first.stdout).toContain(
      "Stopped before the end: rows 2501–5000: gave up after 10 attempts: 500 internal_error: boom",
    );
    expect(first.stdout).toContain("run the same command with --resume");
    expect(readCheckpoint(file)).toMatchObject({
      file: "customers.csv",
      rows: MAX_BATCH_MESSAGES,
      accepted: MAX_BATCH_MESSAGES,
    });
    expect(collector.stored.size).toBe(MAX_BATCH_MESSAGES);

    collector.options.answer = undefined;
    collector.requests.length = 0;
    const resumed = await runCli(importArgs(file, "--resume", "--concurrency", "1"));
    expect(resumed.code).toBe(0);
    const resent = userIds(collector.requests);
    expect(resent[0]).toBe("u2501");
    expect(resent).toHaveLength(ROWS - MAX_BATCH_MESSAGES);
    expect(collector.stored.size).toBe(ROWS);
    expect(resumed.stdout).toContain(
      `Skipped the first 2,500 rows (done before, per the checkpoint); with earlier runs: ${ROWS.toLocaleString("en-US")} accepted, 0 rejected`,
    );
    expect(readCheckpoint(file)).toMatchObject({ rows: ROWS, accepted: ROWS });
  });

  it("counts the rows an interrupted run found already stored in the summary after --resume", async () => {
    const failing = "u2501";
    const failAt = (request: RecordedRequest) =>
      firstUser(request) === failing
        ? { status: 500, body: { error: { code: "internal_error", message: "boom" } } }
        : ("store" as const);
    collector.options.answer = failAt;
    const file = customersFile();
    await runCli(importArgs(file, "--concurrency", "1"));
    // Run again from the first row: the first batch is already stored, then the same batch fails.
    const again = await runCli(importArgs(file, "--concurrency", "1"));
    expect(again.code).toBe(3);
    expect(again.stdout).toContain("0 accepted, 2,500 already stored, 0 rejected");
    expect(readCheckpoint(file)).toMatchObject({
      rows: MAX_BATCH_MESSAGES,
      accepted: 0,
      duplicates: MAX_BATCH_MESSAGES,
    });

    collector.options.answer = undefined;
    const resumed = await runCli(importArgs(file, "--resume", "--concurrency", "1"));
    expect(resumed.code).toBe(0);
    const rest = ROWS - MAX_BATCH_MESSAGES;
    expect(resumed.stdout).toContain(
      `Skipped the first 2,500 rows (done before, per the checkpoint); with earlier runs: ${rest.toLocaleString("en-US")} accepted, 2,500 already stored, 0 rejected`,
    );
    expect(readCheckpoint(file)).toMatchObject({ rows: ROWS, accepted: rest, duplicates: MAX_BATCH_MESSAGES });
  });

  it("with batches in flight together, checkpoints only up to the first unfinished batch", async () => {
    const failing = "u2501";
    collector.options.answer = (request) =>
      firstUser(request) === failing
        ? { status: 503, body: { error: { code: "internal_error", message: "down" } } }
        : "store";
    const file = customersFile();
    const first = await runCli(importArgs(file, "--concurrency", "4"));
    expect(first.code).toBe(3);
    // The batches after the failed one were stored, but the checkpoint cannot pass the gap.
    expect(collector.stored.size).toBe(ROWS - MAX_BATCH_MESSAGES);
    expect(readCheckpoint(file).rows).toBe(MAX_BATCH_MESSAGES);

    collector.options.answer = undefined;
    collector.requests.length = 0;
    const resumed = await runCli(importArgs(file, "--resume"));
    expect(resumed.code).toBe(0);
    expect(userIds(collector.requests)).not.toContain("u2500");
    expect(collector.stored.size).toBe(ROWS);
  });

  it("keeps the rejects of rows before the checkpoint and lists no row twice after a resume", async () => {
    collector.options.rejectIf = (message) =>
      message.userId === "u7" || message.userId === "u5100" ? "refused" : null;
    collector.options.answer = (request) => (firstUser(request) === "u2501" ? { status: 502, body: "" } : "store");
    const file = customersFile();
    const rejectedIds = () =>
      readFileSync(`${file}.rejects.ndjson`, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).input.id);
    expect((await runCli(importArgs(file, "--concurrency", "4"))).code).toBe(3);
    // Row 5100's batch finished after the failed one: its reject is written, but it lies beyond the checkpoint.
    expect(readCheckpoint(file).rows).toBe(MAX_BATCH_MESSAGES);
    expect(rejectedIds().sort()).toEqual(["u5100", "u7"]);

    collector.options.answer = undefined;
    const resumed = await runCli(importArgs(file, "--resume"));
    expect(resumed.code).toBe(1);
    const rejects = readFileSync(`${file}.rejects.ndjson`, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rejects.map((r) => [r.row, r.error])).toEqual([
      [7, "refused"],
      [5100, "refused"],
    ]);
    // Rows past the checkpoint that the first run stored are already stored now: every row is counted once.
    const [, accepted, already] =
      /with earlier runs: ([\d,]+) accepted, ([\d,]+) already stored, 2 rejected/.exec(resumed.stdout) ?? [];
    const number = (text = "") => Number(text.replaceAll(",", ""));
    expect(number(accepted) + number(already)).toBe(ROWS - 2);
  });

  describe("keeps the rejects file matching the checkpoint", () => {
    const ROWS_SMALL = 30;
    /** 30 rows in batches of 10, u5 and u25 refused, the second batch answered 500: stops at 10 rows checkpointed. */
    async function stoppedRun() {
      const lines = ["id,spent"];
      for (let i = 1; i <= ROWS_SMALL; i++) lines.push(`u${i},${i}`);
      const file = path.join(dir, "small.csv");
      writeFileSync(file, lines.join("\n"));
      collector.options.rejectIf = (message) =>
        message.userId === "u5" || message.userId === "u25" ? "refused" : null;
      collector.options.answer = (request) =>
        firstUser(request) === "u11"
          ? { status: 500, body: { error: { code: "internal_error", message: "down" } } }
          : "store";
      const args = (...more: string[]) => importArgs(file, "--batch-size", "10", "--concurrency", "1", ...more);
      const first = await runCli(args());
      expect(first.code).toBe(3);
      expect(readCheckpoint(file).rows).toBe(10);
      return { file, args };
    }
    const rejectedRows = (at: string) =>
      readFileSync(at, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).row);

    it("through a dry run, which lists its rows in a file of its own", async () => {
      const { file, args } = await stoppedRun();
      collector.options.rejectIf = undefined;
      const dry = await runCli(["import", file, "--dry-run", "--as", "identify", "--user-id", "id"]);
      expect(dry.code).toBe(0);
      expect(rejectedRows(`${file}.rejects.ndjson`)).toEqual([5]);

      collector.options.rejectIf = (message) => (message.userId === "u25" ? "refused" : null);
      collector.options.answer = undefined;
      const resumed = await runCli(args("--resume"));
      expect(resumed.code).toBe(1);
      expect(resumed.stdout).toContain("with earlier runs: 28 accepted, 2 rejected");
      expect(rejectedRows(`${file}.rejects.ndjson`)).toEqual([5, 25]);
    });

    it("through a run without --resume that acknowledges nothing", async () => {
      const { file, args } = await stoppedRun();
      collector.options.answer = () => ({ status: 500, body: { error: { code: "internal_error", message: "down" } } });
      expect((await runCli(args())).code).toBe(3);

      collector.options.answer = undefined;
      const resumed = await runCli(args("--resume"));
      expect(resumed.code).toBe(1);
      // The stale checkpoint went with the rejects it counted: every row is read again, and listed once.
      expect(resumed.stdout).toContain("small.csv: 30 rows, 19 accepted, 9 already stored, 2 rejected");
      expect(rejectedRows(`${file}.rejects.ndjson`)).toEqual([5, 25]);
    });
  });

  it("after --resume, still refuses a row reusing the messageId of a row sent before the checkpoint", async () => {
    // Line items of one receipt: row 5,000 reuses receipt R-3 (row 3, sent by the first run) for another line.
    const lines = ["id,receipt,sku"];
    for (let i = 1; i <= ROWS; i++) lines.push(`u${i},R-${i === 5000 ? 3 : i},${i === 5000 ? "TEA" : "MUG"}`);
    const file = path.join(dir, "receipts.csv");
    writeFileSync(file, lines.join("\n"));
    const args = [...importArgs(file, "--message-id", "receipt"), "--as", "track", "--event", "Order Completed"];
    collector.options.answer = (request) => (firstUser(request) === "u2501" ? { status: 500, body: "" } : "store");
    expect((await runCli([...args, "--concurrency", "1"])).code).toBe(3);
    expect(readCheckpoint(file).rows).toBe(MAX_BATCH_MESSAGES);

    collector.options.answer = undefined;
    collector.requests.length = 0;
    const resumed = await runCli([...args, "--resume"]);
    expect(resumed.code).toBe(1);
    expect(userIds(collector.requests)).not.toContain("u5000");
    const [reject] = readFileSync(`${file}.rejects.ndjson`, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(reject).toMatchObject({ row: 5000, messageId: "R-3" });
    expect(reject.error).toContain(`messageId "R-3" is row 3's already, with other content`);
  });

  it("resumes past rows whose quote is never closed: each rejected once, every other row sent once", async () => {
    // Row 7's quote runs to the quoted cell of row 4,000, row 7,000's to the end of the file.
    const lines = ["id,spent"];
    for (let i = 1; i <= ROWS; i++)
      lines.push(i === 7 || i === 7000 ? `u${i},"${i}` : i === 4000 ? `u${i},"4,000"` : `u${i},${i}`);
    const file = path.join(dir, "quotes.csv");
    writeFileSync(file, lines.join("\n"));
    collector.options.answer = (request) => (firstUser(request) === "u2501" ? { status: 500, body: "" } : "store");
    expect((await runCli(importArgs(file, "--concurrency", "1"))).code).toBe(3);
    expect(readCheckpoint(file)).toMatchObject({ rows: MAX_BATCH_MESSAGES, rejected: 1 });

    collector.options.answer = undefined;
    collector.requests.length = 0;
    const resumed = await runCli(importArgs(file, "--resume", "--concurrency", "1"));
    expect(resumed.code).toBe(1);
    expect(resumed.stdout).toContain(`with earlier runs: ${(ROWS - 2).toLocaleString("en-US")} accepted, 2 rejected`);
    const sentAgain = userIds(collector.requests);
    expect(sentAgain[0]).toBe("u2501");
    expect(sentAgain).toHaveLength(ROWS - MAX_BATCH_MESSAGES - 1);
    expect(collector.stored.size).toBe(ROWS - 2);
    const rejects = readFileSync(`${file}.rejects.ndjson`, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rejects.map((r) => [r.row, r.line, r.input])).toEqual([
      [7, 8, 'u7,"7\n'],
      [7000, 7001, 'u7000,"7000\n'],
    ]);
    expect(readCheckpoint(file)).toMatchObject({ rows: ROWS, accepted: ROWS - 2, rejected: 2, complete: true });
  });

  it("refuses to resume a file replaced or edited since its checkpoint, and sends none of it", async () => {
    const file = customersFile();
    collector.options.answer = (request) => (firstUser(request) === "u2501" ? { status: 500, body: "" } : "store");
    expect((await runCli(importArgs(file, "--concurrency", "1"))).code).toBe(3);
    const checkpoint = readFileSync(`${file}.checkpoint.json`, "utf8");
    collector.options.answer = undefined;
    const replaced = ["id,spent", ...Array.from({ length: ROWS }, (_, i) => `v${i + 1},${i + 1}`)].join("\n");
    const edited = readFileSync(file, "utf8").replace("\nu7,7\n", "\nu7,70\n");
    for (const content of [replaced, edited, "id,spent\nu1,1\n"]) {
      writeFileSync(file, content);
      collector.requests.length = 0;
      const run = await runCli(importArgs(file, "--resume"));
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("cannot resume: the first 2,500 rows of");
      expect(run.stderr).toContain("or an older tessera read its rows");
      expect(run.stderr).toContain("without --resume");
      expect(collector.requests).toHaveLength(0);
      expect(readFileSync(`${file}.checkpoint.json`, "utf8")).toBe(checkpoint);
    }

    const again = await runCli(importArgs(file));
    expect(again.code).toBe(0);
    expect(userIds(collector.requests)).toEqual(["u1"]);
  });

  it("resumes a file with rows appended since it was imported, sending only those", async () => {
    const file = customersFile();
    expect((await runCli(importArgs(file))).code).toBe(0);
    writeFileSync(file, `${readFileSync(file, "utf8")}\nu${ROWS + 1},1\nu${ROWS + 2},2`);
    collector.requests.length = 0;
    const resumed = await runCli(importArgs(file, "--resume"));
    expect(resumed.code).toBe(0);
    expect(userIds(collector.requests)).toEqual([`u${ROWS + 1}`, `u${ROWS + 2}`]);
    expect(readCheckpoint(file)).toMatchObject({ rows: ROWS + 2, accepted: ROWS + 2, complete: true });
  });

  it("exits 1 on --resume when an earlier run rejected rows, as the summary counts them", async () => {
    collector.options.rejectIf = (message) => (message.userId === "u7" ? "refused" : null);
    collector.options.answer = (request) => (firstUser(request) === "u2501" ? { status: 500, body: "" } : "store");
    const file = customersFile();
    expect((await runCli(importArgs(file, "--concurrency", "1"))).code).toBe(3);

    collector.options.answer = undefined;
    const resumed = await runCli(importArgs(file, "--resume"));
    expect(resumed.stdout).toContain("with earlier runs: 7,599 accepted, 1 rejected");
    expect(resumed.code).toBe(1);
    // Nothing left to send: the earlier rejects still decide the code.
    expect((await runCli(importArgs(file, "--resume"))).code).toBe(1);
    expect((await runCli(importArgs(file, "--resume", "--allow-rejects"))).code).toBe(0);
  });

  it("refuses to resume with a different mapping", async () => {
    const file = customersFile();
    collector.options.answer = (request) => (firstUser(request) === "u2501" ? { status: 500, body: "" } : "store");
    expect((await runCli(importArgs(file, "--concurrency", "1"))).code).toBe(3);
    const run = await runCli([...importArgs(file, "--resume"), "--set", "source=crm"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("was written with other mapping options");
  });

  it("stops reading on Ctrl-C, finishes the batches in flight and checkpoints them", async () => {
    const controller = new AbortController();
    collector.options.answer = (_request, n) => {
      if (n === 0) controller.abort();
      return "store";
    };
    const file = customersFile();
    const run = await runCli(importArgs(file, "--concurrency", "1"), { signal: controller.signal });
    expect(run.code).toBe(3);
    expect(run.stdout).toContain("Stopped before the end: interrupted");
    const { rows } = readCheckpoint(file);
    expect(rows).toBeGreaterThanOrEqual(MAX_BATCH_MESSAGES);
    expect(rows).toBeLessThan(ROWS);
    expect(collector.stored.size).toBe(rows);
  });
});
