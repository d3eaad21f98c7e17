// Audiences benchmark (DESIGN §6): ingestion with and without definitions, membership lag after an event and after a
// window boundary, backfill rate, one profile with a long history. Every phase runs on its own fresh `wrangler dev`.
// Usage: npm run bench  (or: node bench/audiences/run.mjs [--only ingest,lag,backfill,history] [--concurrency 8]
//   [--batches-browser 300] [--batches-server 10] [--lag-profiles 200] [--boundary-lead 5000]
//   [--boundary-spacing 75] [--burst 200] [--backfill-profiles 10000] [--backfill-wait 240]
//   [--history-events 100000] [--history-idle-seconds 20] [--history-op sum] [--keep-logs DIR])
import { backfillRate } from "./backfill.mjs";
import { longHistory } from "./history.mjs";
import { ingestionWithDefinitions } from "./ingest.mjs";
import { membershipLag } from "./lag.mjs";
import { keepLogsIn } from "./platform.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const num = (name, fallback) => Number(arg(name, fallback));
const only = new Set(arg("only", "ingest,lag,backfill,history").split(","));
const concurrency = num("concurrency", 8);
if (arg("keep-logs")) keepLogsIn(arg("keep-logs"));

const started = performance.now();
const results = {};
if (only.has("ingest")) {
  results.ingest = await ingestionWithDefinitions({
    browserBatches: num("batches-browser", 300),
    serverBatches: num("batches-server", 10),
    concurrency,
  });
  console.table(results.ingest);
}
if (only.has("lag")) {
  results.lag = await membershipLag({
    profiles: num("lag-profiles", 200),
    concurrency,
    lead: num("boundary-lead", 5_000),
    spacing: num("boundary-spacing", 75),
    burst: num("burst", 200),
  });
  console.table(results.lag.rows);
}
if (only.has("backfill")) {
  results.backfill = await backfillRate({
    profiles: num("backfill-profiles", 10_000),
    concurrency,
    waitSeconds: num("backfill-wait", 240),
  });
  console.table([results.backfill]);
}
if (only.has("history")) {
  results.history = await longHistory({
    events: num("history-events", 100_000),
    idleSeconds: num("history-idle-seconds", 20),
    op: arg("history-op", "sum"),
  });
  console.table(results.history.rows);
  console.log("after idle (ms):", results.history.with_trait_after_idle_ms);
}
results.minutes = +((performance.now() - started) / 60_000).toFixed(1);
console.log(JSON.stringify(results, null, 2));
