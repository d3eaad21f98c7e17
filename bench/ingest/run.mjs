// Ingestion benchmark: Tessera's /v1/batch against two floors, for the browser and server load shapes.
// Usage: npm run bench  (or: node bench/ingest/run.mjs [--batches-browser N] [--batches-server N] [--concurrency C])
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  devKeys,
  freePort,
  prepareLocalState,
  ROOT,
  seedDevWorkspace,
  startWrangler,
} from "../../scripts/local-platform.mjs";
import { browserBatch, serverBatch, serverWarmup } from "./load-shapes.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const CONCURRENCY = arg("concurrency", 8);
const BATCHES = { browser: arg("batches-browser", 300), server: arg("batches-server", 100) };
const keys = devKeys({});
const auth = `Basic ${Buffer.from(`${keys.writeKey}:`).toString("base64")}`;

async function post(url, body) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: auth },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Wait until the batch's newest event shows in the profile API; returns when it did. */
async function waitVisible(apiUrl, visitor, messageId, probe = "") {
  const url = `${apiUrl}/v1/profiles/${encodeURIComponent(visitor)}/events?${probe}limit=1`;
  for (let tries = 0; tries < 5000; tries++) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${keys.secretKey}` } });
    if (res.ok) {
      const page = await res.json();
      if (page.data?.some((e) => e.messageId === messageId)) return performance.now();
    } else await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`event ${messageId} never became visible for ${visitor}`);
}

/** Send `count` batches with `CONCURRENCY` in flight; every 10th batch also measures POST→visible latency. */
async function run(url, makeBatch, count, { apiUrl, concurrency = CONCURRENCY, probeEvery = 10 } = {}) {
  let next = 0;
  let events = 0;
  const latencies = [];
  const t0 = performance.now();
  async function worker() {
    while (next < count) {
      const n = next++;
      const { body, visitor, probe } = makeBatch(n);
      const start = performance.now();
      const answer = await post(url, body);
      events += answer.accepted;
      if (apiUrl && n % probeEvery === 0) {
        const last = body.batch[body.batch.length - 1];
        latencies.push((await waitVisible(apiUrl, visitor, last.messageId, probe)) - start);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { eventsPerSecond: events / seconds, events, seconds, latencies };
}

const pct = (xs, p) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function main() {
  const stateDirs = [mkdtempSync(path.join(tmpdir(), "tessera-bench-")), mkdtempSync(path.join(tmpdir(), "floor-"))];
  prepareLocalState({ persistTo: stateDirs[0], quiet: true });
  const tessera = await startWrangler({ port: await freePort(), persistTo: stateDirs[0], keys });
  await seedDevWorkspace({ url: tessera.url, keys });
  const floor = await startWrangler({
    port: await freePort(),
    persistTo: stateDirs[1],
    keys,
    config: path.join(ROOT, "bench/floor/wrangler.toml"),
  });
  const results = {};
  try {
    for (const shape of ["browser", "server"]) {
      const runId = `${shape}-${Date.now().toString(36)}`;
      const make = (prefix) => (n) =>
        shape === "browser" ? browserBatch(`${runId}${prefix}`, n) : serverBatch(`${runId}${prefix}`, n);
      if (shape === "server") {
        for (const [target, prefix] of [
          [`${tessera.url}/v1/batch`, "a"],
          [`${floor.url}/floor/parse`, "b"],
          [`${floor.url}/floor/do`, "c"],
        ]) {
          for (const b of serverWarmup(`${runId}${prefix}`)) await post(target, b.body);
        }
      }
      const a = await run(`${tessera.url}/v1/batch`, make("a"), BATCHES[shape], { apiUrl: tessera.url });
      const b = await run(`${floor.url}/floor/parse`, make("b"), BATCHES[shape]);
      const c = await run(`${floor.url}/floor/do`, make("c"), BATCHES[shape]);
      // Latency without queueing: one sender, every batch probed.
      const idle = await run(`${tessera.url}/v1/batch`, make("l"), 30, {
        apiUrl: tessera.url,
        concurrency: 1,
        probeEvery: 1,
      });
      results[shape] = {
        tessera_events_per_s: Math.round(a.eventsPerSecond),
        floor_parse_events_per_s: Math.round(b.eventsPerSecond),
        floor_do_events_per_s: Math.round(c.eventsPerSecond),
        "a/b": +(a.eventsPerSecond / b.eventsPerSecond).toFixed(3),
        "a/c": +(a.eventsPerSecond / c.eventsPerSecond).toFixed(3),
        visible_p50_ms: +pct(a.latencies, 50).toFixed(1),
        visible_p99_ms: +pct(a.latencies, 99).toFixed(1),
        latency_samples: a.latencies.length,
        idle_visible_p50_ms: +pct(idle.latencies, 50).toFixed(1),
        idle_visible_p99_ms: +pct(idle.latencies, 99).toFixed(1),
        batches: BATCHES[shape],
        concurrency: CONCURRENCY,
      };
      console.log(shape, results[shape]);
    }
  } finally {
    await tessera.stop();
    await floor.stop();
    for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
  }
  console.log(JSON.stringify(results, null, 2));
}

await main();
