// Ingestion benchmark (issue 9): Tessera's /v1/batch against the bare Durable Object floor, with the same batches,
// on a workspace that already holds a million identifiers; then `tessera import` of a point-of-sale CSV.
// Usage: npm run bench  (or: node bench/ingest/run.mjs [--batches-browser N] [--batches-server N] [--concurrency C]
//        [--seed-identifiers N] [--import-rows N] [--import-customers N] [--skip-import] [--only-import]
//        [--keep-logs DIR])
//
// Seeding: the dev workspace is created through the Worker (`/dev/seed`), the Worker is stopped, and
// `wrangler d1 execute --local` inserts the identifiers with one recursive-CTE statement per table straight into the
// local D1 (half anonymous ids, half emails, two per profile), before the Worker starts again. Nothing in the
// Worker knows about it; a million rows take about a minute.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { devKeys, prepareLocalState, ROOT, seedDevWorkspace, startWrangler } from "../../scripts/local-platform.mjs";
import { browserBatch, posCsv, serverBatch, serverNewBatch, serverWarmup } from "./load-shapes.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const CONCURRENCY = arg("concurrency", 8);
const BATCHES = { browser: arg("batches-browser", 300), server: arg("batches-server", 100) };
const SEED_IDENTIFIERS = arg("seed-identifiers", 1_000_000);
const IMPORT_ROWS = arg("import-rows", 100_000);
const IMPORT_CUSTOMERS = arg("import-customers", 20_000);
const keys = devKeys({});
const auth = `Basic ${Buffer.from(`${keys.writeKey}:`).toString("base64")}`;
const wranglerEnv = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

/** A million identifiers in the dev workspace, written into the local D1 while no Worker runs. */
function seedIdentifiers(persistTo, n) {
  const profiles = Math.ceil(n / 2);
  const numbers = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${profiles - 1})`;
  const ws = keys.workspaceId.replaceAll("'", "''");
  const sql = [
    `INSERT INTO profiles (id, workspace_id, created_at, identifier_count)
     ${numbers} SELECT printf('prf_seed%08d', i), '${ws}', 1700000000000 + i, 2 FROM n`,
    `INSERT INTO identifiers (workspace_id, type, value, profile_id, first_seen, first_profile_id)
     ${numbers} SELECT '${ws}', 'anonymous_id', printf('seed-anon-%d', i), printf('prf_seed%08d', i), 1700000000000,
       printf('prf_seed%08d', i) FROM n`,
    `INSERT INTO identifiers (workspace_id, type, value, profile_id, first_seen, first_profile_id)
     ${numbers} SELECT '${ws}', 'email', printf('seed%d@example.com', i), printf('prf_seed%08d', i), 1700000000000,
       printf('prf_seed%08d', i) FROM n`,
  ];
  for (const command of sql) {
    const res = spawnSync(
      path.join(ROOT, "node_modules/.bin/wrangler"),
      ["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--command", command.replace(/\s+/g, " ")],
      { cwd: ROOT, env: wranglerEnv, encoding: "utf8" },
    );
    if (res.status !== 0) throw new Error(`seeding failed:\n${res.stdout}\n${res.stderr}`);
  }
}

/**
 * Folds the seed's write-ahead log into the local D1 file. `wrangler d1 execute` writes the million rows as one
 * transaction and leaves a ~200 MB WAL behind; the first query of the next `wrangler dev` then spent ~0.75 s on it, so
 * the first eight requests of the first shape took ~1 s each and set the browser shape's p99 (bench/README). A
 * workspace that grew over months has no such log. D1 refuses `PRAGMA wal_checkpoint`, so this opens the file with
 * SQLite itself (python3's sqlite3 module, else the sqlite3 CLI), while no Worker runs; returns whether it could.
 */
function checkpointLocalD1(persistTo) {
  const dir = path.join(persistTo, "v3/d1");
  const files = readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".sqlite"));
  const tools = [
    (file) => [
      "python3",
      ["-c", "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA wal_checkpoint(TRUNCATE)')", file],
    ],
    (file) => ["sqlite3", [file, "PRAGMA wal_checkpoint(TRUNCATE)"]],
  ];
  return files.every((f) =>
    tools.some((tool) => {
      const [command, args] = tool(path.join(dir, String(f)));
      return spawnSync(command, args, { encoding: "utf8" }).status === 0;
    }),
  );
}

/** POST like a well-behaved client: 429 waits Retry-After and sends again, 5xx is counted and sent again. */
async function post(url, body, stats) {
  const text = JSON.stringify(body);
  for (;;) {
    const start = performance.now();
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: auth },
      body: text,
    });
    const answer = await res.text();
    if (res.status === 200) {
      stats?.latencies.push(performance.now() - start);
      return JSON.parse(answer);
    }
    if (res.status === 429 && stats) {
      stats.status429++;
      await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after") ?? 1) * 1000));
      continue;
    }
    if (res.status >= 500 && stats) {
      stats.status5xx++;
      if (stats.errors.length < 5) stats.errors.push(`${res.status} ${answer.slice(0, 160)}`);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    throw new Error(`${url} answered ${res.status}: ${answer.slice(0, 300)}`);
  }
}

/** Send the pre-built `bodies` with `CONCURRENCY` in flight. */
async function run(url, bodies) {
  let next = 0;
  let events = 0;
  const stats = { latencies: [], status429: 0, status5xx: 0, errors: [] };
  const t0 = performance.now();
  async function worker() {
    while (next < bodies.length) {
      const answer = await post(url, bodies[next++], stats);
      events += answer.accepted;
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { eventsPerSecond: events / seconds, events, seconds, ...stats };
}

const pct = (xs, p) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** `tessera import` of `file` against `host`; resolves to the wall time and the CLI's summary. */
function importFile(host, file) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, "packages/cli/dist/tessera.js"),
        "import",
        file,
        "--host",
        host,
        "--write-key",
        keys.writeKey,
        "--event",
        "Order Completed",
        "--user-id",
        "customer_id",
        "--email",
        "email",
        "--timestamp",
        "purchased_at",
        "--message-id",
        "receipt_id",
        "--set",
        "channel=pos",
        "--concurrency",
        String(CONCURRENCY),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    // The CLI's progress lines and retries, as they come, so a long import can be watched.
    child.stderr.on("data", (d) => {
      out += d;
      process.stderr.write(d);
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) reject(new Error(`tessera import exited ${code}:\n${out.slice(-2000)}`));
      else
        resolve({
          seconds,
          rowsPerSecond: IMPORT_ROWS / seconds,
          retries: out.match(/; retrying in /g)?.length ?? 0,
          shrinks: out.match(/The server is busy/g)?.length ?? 0,
          summary: out.trim().split("\n").slice(-6),
        });
    });
  });
}

/** Fifty customers of the import, spread over its ids: whose stored events are counted. */
function sampledCustomers() {
  const step = Math.ceil(IMPORT_CUSTOMERS / 50);
  return Array.from({ length: Math.ceil(IMPORT_CUSTOMERS / step) }, (_, i) => i * step);
}

/** How many receipts of the file belong to the sampled customers: what they must hold once the import is stored. */
function sampledReceipts(csv) {
  const sampled = new Set(sampledCustomers().map((c) => `C-${c}`));
  return csv.split("\n").filter((line) => sampled.has(line.split(",")[1])).length;
}

/** Profile reads that did not answer within a minute (once, after a second import, one hung for five). */
const slowReads = [];

/** A GET of the profile API, given up on and tried again after a minute without an answer (at most three times). */
async function readPatiently(url) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, {
        headers: { authorization: `Bearer ${keys.secretKey}` },
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      slowReads.push(`${url}: ${err.name} (attempt ${attempt})`);
      console.warn(slowReads.at(-1));
      if (attempt === 3) throw err;
    }
  }
}

/** Events stored for a sample of the import's customers (through the profile API), to show a re-import adds none. */
async function sampledEvents(url) {
  let total = 0;
  for (const c of sampledCustomers()) {
    const res = await readPatiently(`${url}/v1/profiles/user_id:C-${c}/events?limit=1000`);
    if (!res.ok) throw new Error(`profile C-${c}: ${res.status} ${await res.text()}`);
    total += (await res.json()).data.length;
  }
  return total;
}

/** How long {@link settledSample} waits for accepted rows still on their way (the retry consumer backs off for minutes). */
const SETTLE_MS = 300_000;

/**
 * The sample's stored events once they stop arriving: read until they reach `expected` (or pass it: duplicates, no
 * use waiting) or {@link SETTLE_MS} passed; with the seconds it took.
 */
async function settledSample(url, expected) {
  const start = performance.now();
  let events = await sampledEvents(url);
  while (events < expected && performance.now() - start < SETTLE_MS) {
    await new Promise((r) => setTimeout(r, 2_000));
    events = await sampledEvents(url);
  }
  return { events, seconds: +((performance.now() - start) / 1000).toFixed(1) };
}

async function main() {
  const stateDirs = [mkdtempSync(path.join(tmpdir(), "tessera-bench-")), mkdtempSync(path.join(tmpdir(), "floor-"))];
  const results = { concurrency: CONCURRENCY, seeded_identifiers: SEED_IDENTIFIERS };
  let tessera;
  let floor;
  // Stopped early (Ctrl-C): the dev servers would outlive this process otherwise.
  for (const signal of ["SIGINT", "SIGTERM"])
    process.once(signal, async () => {
      await Promise.allSettled([tessera?.stop(), floor?.stop()]);
      for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
      process.exit(130);
    });
  try {
    prepareLocalState({ persistTo: stateDirs[0], quiet: true });
    const seeding = await startWrangler({ persistTo: stateDirs[0], keys });
    await seedDevWorkspace({ url: seeding.url, keys });
    await seeding.stop();
    const seedStart = performance.now();
    if (SEED_IDENTIFIERS > 0) {
      seedIdentifiers(stateDirs[0], SEED_IDENTIFIERS);
      results.seed_log_checkpointed = checkpointLocalD1(stateDirs[0]);
      if (!results.seed_log_checkpointed)
        console.warn(
          "could not checkpoint the seeded D1 (needs python3 or sqlite3): the first requests will read its log",
        );
    }
    results.seed_seconds = +((performance.now() - seedStart) / 1000).toFixed(1);
    console.log(`seeded ${SEED_IDENTIFIERS} identifiers in ${results.seed_seconds} s`);
    // --keep-logs DIR: both dev servers' whole output, to read what the runtime said about a slow or failed request.
    const logs = process.argv.indexOf("--keep-logs");
    const logTo = (name) => (logs > 0 ? path.join(process.argv[logs + 1], `${name}.log`) : undefined);
    tessera = await startWrangler({ persistTo: stateDirs[0], keys, logTo: logTo("tessera") });
    floor = await startWrangler({
      persistTo: stateDirs[1],
      keys,
      config: path.join(ROOT, "bench/floor/wrangler.toml"),
      logTo: logTo("floor"),
    });

    const shapes = {
      browser: { count: BATCHES.browser, make: (runId, n) => browserBatch(runId, n).body },
      server_returning: { count: BATCHES.server, make: (runId, n) => serverBatch(runId, n).body, warm: true },
      server_new: { count: BATCHES.server, make: (runId, n) => serverNewBatch(runId, n).body },
    };
    for (const [shape, { count, make, warm }] of Object.entries(process.argv.includes("--only-import") ? {} : shapes)) {
      const runId = `${shape}-${Date.now().toString(36)}`;
      // The same bodies go to both: built once.
      const bodies = Array.from({ length: count }, (_, n) => make(runId, n));
      if (warm)
        for (const target of [`${tessera.url}/v1/batch`, `${floor.url}/floor/do`])
          for (const b of serverWarmup(runId))
            await post(target, b.body, { latencies: [], status429: 0, status5xx: 0, errors: [] });
      const a = await run(`${tessera.url}/v1/batch`, bodies);
      const c = await run(`${floor.url}/floor/do`, bodies);
      results[shape] = {
        tessera_events_per_s: Math.round(a.eventsPerSecond),
        floor_events_per_s: Math.round(c.eventsPerSecond),
        ratio: +(a.eventsPerSecond / c.eventsPerSecond).toFixed(3),
        post_p50_ms: +pct(a.latencies, 50).toFixed(1),
        post_p99_ms: +pct(a.latencies, 99).toFixed(1),
        floor_post_p99_ms: +pct(c.latencies, 99).toFixed(1),
        answered_5xx: a.status5xx,
        answered_429: a.status429,
        first_5xx: a.errors,
        floor_answered_5xx: c.status5xx,
        batches: count,
      };
      console.log(shape, results[shape]);
    }

    if (!process.argv.includes("--skip-import")) {
      const dir = mkdtempSync(path.join(tmpdir(), "pos-"));
      stateDirs.push(dir);
      const file = path.join(dir, "pos-export.csv");
      const csv = posCsv(IMPORT_ROWS, IMPORT_CUSTOMERS);
      writeFileSync(file, csv);
      const expected = sampledReceipts(csv);
      const first = await importFile(tessera.url, file);
      // Accepted rows may still be on their way (a request cut at the deadline finishes its work, or queues it for
      // the retry consumer, whose backoff reaches minutes): wait until the sample holds every receipt, or say it never
      // did. After the second run too: a straggler of the first run arriving then is not a duplicate of the second.
      const settledFirst = await settledSample(tessera.url, expected);
      // A second run of the same file, from scratch (no --resume): every row is sent again.
      const second = await importFile(tessera.url, file);
      const settledSecond = await settledSample(tessera.url, expected);
      const floorRun = await importFile(floor.url, file);
      results.import = {
        rows: IMPORT_ROWS,
        customers: IMPORT_CUSTOMERS,
        tessera_rows_per_s: Math.round(first.rowsPerSecond),
        floor_rows_per_s: Math.round(floorRun.rowsPerSecond),
        ratio: +(first.rowsPerSecond / floorRun.rowsPerSecond).toFixed(3),
        second_run_rows_per_s: Math.round(second.rowsPerSecond),
        tessera_seconds: +first.seconds.toFixed(1),
        tessera_retries: first.retries,
        tessera_window_shrinks: first.shrinks,
        second_run_retries: second.retries,
        floor_seconds: +floorRun.seconds.toFixed(1),
        sampled_receipts: expected,
        sampled_events_after_first: settledFirst.events,
        first_run_all_stored_after_s: settledFirst.events === expected ? settledFirst.seconds : null,
        sampled_events_after_second: settledSecond.events,
        second_run_all_stored_after_s: settledSecond.events === expected ? settledSecond.seconds : null,
        // Exactly the file's receipts: more would be duplicates, fewer a loss (or still on its way after 5 minutes).
        second_run_stored_nothing_new: settledSecond.events === expected,
        profile_reads_without_answer: slowReads,
        tessera_summary: first.summary,
      };
      console.log("import", results.import);
    }
  } finally {
    await tessera?.stop();
    await floor?.stop();
    for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
  }
  console.log(JSON.stringify(results, null, 2));
}

await main();
