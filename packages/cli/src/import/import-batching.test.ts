import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { MAX_BATCH_MESSAGES, MAX_REQUEST_BYTES } from "@tessera/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FakeCollector, startFakeCollector } from "../../test-support/fake-collector";
import { runCli } from "../../test-support/run-cli";
import { DEFAULT_BATCH_ROWS } from "./args";

/** How `tessera import` fills requests: near the collector's limits, never over them, gzipped; and what it prints meanwhile. */
let collector: FakeCollector;
let dir: string;
beforeEach(async () => {
  collector = await startFakeCollector();
  dir = mkdtempSync(path.join(tmpdir(), "tessera-batching-"));
});
afterEach(async () => {
  await collector.close();
});

const sent = () => collector.requests.flatMap((request) => request.body.batch);

/** A CSV of `rows` customers; `pad` adds that many characters to each row. */
function customers(name: string, rows: number, pad = 0): string {
  const lines = ["id,email,spent,note"];
  for (let i = 1; i <= rows; i++) lines.push(`u${i},u${i}@example.com,${i},${"x".repeat(pad)}`);
  const file = path.join(dir, name);
  writeFileSync(file, lines.join("\n"));
  return file;
}
const identify = (file: string, ...more: string[]) => [
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
  ...more,
];

describe("tessera import batching", () => {
  it("packs batches of --batch-size rows (default DEFAULT_BATCH_ROWS), up to the collector's message limit", async () => {
    const rows = DEFAULT_BATCH_ROWS * 2 + 7;
    const run = await runCli(identify(customers("some.csv", rows)));
    expect(run.code).toBe(0);
    // Batches are in flight together, so they arrive in any order.
    const counts = () => collector.requests.map((r) => r.body.batch.length).sort((a, b) => b - a);
    expect(counts()).toEqual([DEFAULT_BATCH_ROWS, DEFAULT_BATCH_ROWS, 7]);
    expect(collector.stored.size).toBe(rows);

    collector.requests.length = 0;
    collector.stored.clear();
    const many = MAX_BATCH_MESSAGES * 2 + 7;
    const full = await runCli(identify(customers("many.csv", many), "--batch-size", String(MAX_BATCH_MESSAGES)));
    expect(full.code).toBe(0);
    expect(counts()).toEqual([MAX_BATCH_MESSAGES, MAX_BATCH_MESSAGES, 7]);
    expect(collector.stored.size).toBe(many);
  });

  it("packs batches up to the byte limit and never over it", async () => {
    const rows = 400;
    const file = customers("wide.csv", rows, 4000);
    const run = await runCli(identify(file, "--concurrency", "2"));
    expect(run.code).toBe(0);
    const sizes = collector.requests.map((r) => r.jsonBytes);
    expect(sizes.length).toBeGreaterThan(2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThan(MAX_REQUEST_BYTES - 4200);
    for (const request of collector.requests) expect(request.wireBytes).toBeLessThan(request.jsonBytes / 10);
    expect(sent().map((m) => m.userId)).toEqual(Array.from({ length: rows }, (_, i) => `u${i + 1}`));
  });

  it("sends halves of a batch a smaller collector answers 413 for", async () => {
    collector.options.answer = (request) =>
      request.body.batch.length > 1000
        ? { status: 413, body: { error: { code: "payload_too_large", message: "too large" } } }
        : "store";
    const file = customers("split.csv", MAX_BATCH_MESSAGES);
    const run = await runCli(identify(file, "--batch-size", String(MAX_BATCH_MESSAGES)));
    expect(run.code).toBe(0);
    expect(collector.requests.map((r) => r.body.batch.length)).toEqual([2500, 1250, 625, 625, 1250, 625, 625]);
    expect(collector.stored.size).toBe(MAX_BATCH_MESSAGES);
  });

  it("prints plain progress lines when stderr is not a terminal", async () => {
    const file = customers("progress.csv", 3000);
    const run = await runCli(identify(file, "--concurrency", "1"), { progressIntervalMs: 0 });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^2,500 rows \(\d[\d,]* rows\/s, \d+%\): 2,500 accepted, 0 rejected$/m);
    expect(run.stderr).toMatch(/^3,000 rows \(.*100%\): 3,000 accepted, 0 rejected$/m);
  });

  it("measures the percentage by the rows sent, not by the bytes read ahead of them", async () => {
    // Small enough to be read in one go: the bytes read say 100% before the first batch is sent.
    const file = customers("ahead.csv", 4000);
    const run = await runCli(identify(file, "--concurrency", "1"), { progressIntervalMs: 0 });
    expect(run.code).toBe(0);
    const lines = [...run.stderr.matchAll(/^([\d,]+) rows \(.*, (\d+)%\)/gm)];
    expect(lines.length).toBeGreaterThan(10);
    for (const [, rows, percent] of lines) {
      const share = (Number(rows.replaceAll(",", "")) * 100) / 4000;
      // Early rows are a little shorter than later ones (u1 … u4000): their bytes are a little less than their share.
      expect(Number(percent)).toBeGreaterThan(share - 5);
      expect(Number(percent)).toBeLessThanOrEqual(Math.ceil(share));
    }
    expect(lines.at(-1)?.slice(1)).toEqual(["4,000", "100"]);
  });
});
