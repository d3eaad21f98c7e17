import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FakeCollector, startFakeCollector } from "../../test-support/fake-collector";
import { runCli } from "../../test-support/run-cli";

/** `tessera import` against a busy collector: fewer requests at once, and a retry the collector can recognise. */
let collector: FakeCollector;
let dir: string;
beforeEach(async () => {
  collector = await startFakeCollector();
  dir = mkdtempSync(path.join(tmpdir(), "tessera-congestion-"));
});
afterEach(async () => {
  await collector.close();
});

function customersFile(rows: number): string {
  const lines = ["id,spent"];
  for (let i = 1; i <= rows; i++) lines.push(`u${i},${i}`);
  const file = path.join(dir, "customers.csv");
  writeFileSync(file, lines.join("\n"));
  return file;
}
const importArgs = (file: string, ...more: string[]) => [
  "import",
  file,
  ...["--host", collector.url, "--write-key", "wk_test", "--as", "identify", "--user-id", "id"],
  ...more,
];
const busy = {
  status: 429,
  headers: { "retry-after": "1" },
  body: { error: { code: "rate_limit_error", message: "busy" } },
};

describe("tessera import against a busy collector", () => {
  it("halves the requests in flight when they are refused, retries included, and grows back as they are answered", async () => {
    let eightArrived!: () => void;
    const allEight = new Promise<void>((resolve) => {
      eightArrived = resolve;
    });
    // After the refusals, each request is held until five are in flight together, or 200 ms: with the window back
    // at five or more they meet at once, and a window stuck at four shows as no request seeing four others. (Held a
    // fixed 5 ms, whether the CLI filled its window in time depended on the machine's load: it failed once so.)
    let held = 0;
    const heldChanged = new Set<() => void>();
    const fiveHeld = () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, 200);
        function done() {
          clearTimeout(timer);
          heldChanged.delete(check);
          resolve();
        }
        function check() {
          if (held >= 5) done();
        }
        heldChanged.add(check);
        check();
      });
    collector.options.hold = async (_request, n) => {
      // The first eight requests are all in flight together, then all refused: one overload, one halving.
      if (n === 7) eightArrived();
      if (n < 8) return allEight;
      held++;
      for (const check of [...heldChanged]) check();
      await fiveHeld();
      held--;
    };
    collector.options.answer = (_request, n) => (n < 8 ? busy : "store");
    const rows = 400;
    const run = await runCli(importArgs(customersFile(rows), "--concurrency", "8", "--batch-size", "10"));

    expect(run.code).toBe(0);
    expect(run.stderr).toContain("The server is busy: sending 4 batches at a time (was 8)");
    expect(run.stderr).not.toContain("sending 2 batches");
    const concurrent = collector.requests.map((request) => request.concurrent);
    expect(Math.max(...concurrent.slice(0, 8))).toBe(7);
    // The refused batches are retried four at a time: no more until four answers grow the window …
    expect(Math.max(...concurrent.slice(8, 12))).toBeLessThanOrEqual(3);
    // … which opens up again as answers come back.
    expect(Math.max(...concurrent.slice(12))).toBeGreaterThan(3);
    expect(collector.requests).toHaveLength(40 + 8);
    expect(collector.stored.size).toBe(rows);
  });

  it("does not slow down for an answer that asks to be retried at once (Retry-After: 0)", async () => {
    // What `wrangler dev`'s proxy answers when a kept-alive connection to the Worker expired under the request.
    const lost = { status: 503, headers: { "retry-after": "0" }, body: "Your worker restarted mid-request." };
    collector.options.answer = (_request, n) => (n % 3 === 0 ? lost : "store");
    const run = await runCli(importArgs(customersFile(200), "--concurrency", "4", "--batch-size", "10"));
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("503");
    expect(run.stderr).not.toContain("The server is busy");
    expect(collector.stored.size).toBe(200);
  });

  it("sends every attempt of a batch with the same Idempotency-Key, and each batch with its own", async () => {
    collector.options.answer = (_request, n) => (n === 0 ? busy : "store");
    const run = await runCli(importArgs(customersFile(30), "--concurrency", "1", "--batch-size", "10"));
    expect(run.code).toBe(0);
    const keys = collector.requests.map((request) => request.headers["idempotency-key"]);
    expect(keys).toHaveLength(4);
    expect(keys[0]).toMatch(/^[\w-]{43}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(new Set(keys.slice(1)).size).toBe(3);
  });
});
