// The import CLI's own cost on a large file, no server: `tessera import --dry-run` reads, maps, validates and checks
// every row's messageId as a real run does, and sends nothing. Rows/s and the process's peak memory, for a POS
// export of --rows receipts (default 3,000,000; the file is written to a temporary folder and removed after).
//
//   node bench/ingest/import-local.mjs [--rows 3000000] [--customers 600000]
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = path.join(ROOT, "packages/cli/dist/tessera.js");
const flag = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const ROWS = flag("--rows", 3_000_000);
const CUSTOMERS = flag("--customers", Math.max(1, Math.round(ROWS / 5)));

/** Streams the file row by row (the bench's `posCsv` builds one string, too large at millions of rows). */
async function writePosCsv(file, rows, customers) {
  const out = createWriteStream(file);
  out.write("receipt_id,customer_id,email,total,items,store,purchased_at\n");
  // Every receipt in the past (the collector refuses times more than a day ahead), 11 s apart.
  const start = Date.now() - rows * 11_000 - 86_400_000;
  for (let r = 0; r < rows; r++) {
    const c = (r * 7919) % customers;
    const when = new Date(start + r * 11_000).toISOString();
    const line = `R-${r},C-${c},customer${c}@example.com,${(10 + (r % 90)).toFixed(2)},"Mug, large",00${r % 40},${when}\n`;
    if (!out.write(line)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}

/** Peak resident memory of a running process (Linux), in MB; null elsewhere. */
function peakMb(pid) {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : null;
  } catch {
    return null;
  }
}

async function main() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const dir = mkdtempSync(path.join(tmpdir(), "import-local-"));
  try {
    const file = path.join(dir, "pos-export.csv");
    const written = performance.now();
    await writePosCsv(file, ROWS, CUSTOMERS);
    const mb = statSync(file).size / 2 ** 20;
    console.log(`wrote ${ROWS} rows (${mb.toFixed(0)} MB) in ${((performance.now() - written) / 1000).toFixed(1)} s`);
    const args = [CLI, "import", file, "--host", "http://localhost:1", "--write-key", "wk_bench", "--dry-run"];
    args.push("--event", "Order Completed", "--user-id", "customer_id", "--email", "email");
    args.push("--timestamp", "purchased_at", "--message-id", "receipt_id", "--set", "channel=pos");
    const started = performance.now();
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr = (stderr + chunk).slice(-4_000);
    });
    // VmHWM is the high-water mark: the last reading before the process ends is its peak (to within 200 ms).
    let peak = null;
    const watch = setInterval(() => {
      peak = peakMb(child.pid) ?? peak;
    }, 200);
    const [code] = await once(child, "exit");
    clearInterval(watch);
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`the dry run exited ${code}:\n${stderr}`);
    const result = {
      rows: ROWS,
      file_mb: Math.round(mb),
      seconds: +seconds.toFixed(1),
      rows_per_s: Math.round(ROWS / seconds),
      peak_rss_mb: peak,
    };
    console.log(JSON.stringify(result));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
