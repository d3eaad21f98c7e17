// `npm run bench`: every benchmark, one after the other (never part of `npm test`).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const suites = [
  "ingest/run.mjs",
  "ingest/memory.mjs",
  "ingest/import-local.mjs",
  "audiences/run.mjs",
  "activation/run.mjs",
  "sdk/run.mjs",
].filter((s) => existsSync(path.join(here, s)));
let failed = 0;
for (const suite of suites) {
  console.log(`\n=== bench/${suite} ===`);
  const res = spawnSync(process.execPath, [path.join(here, suite), ...process.argv.slice(2)], { stdio: "inherit" });
  if (res.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
