#!/usr/bin/env node
// What a live profile object costs the local runtime in memory, against the floor's one-table object: `wrangler dev`'s
// workerd fails new SQLite-backed objects with SQLITE_NOMEM once it holds about a gigabyte (seen in the import bench:
// the object call fails and the collector queues it for the retry consumer). Sends server-shape batches of brand-new
// visitors to Tessera, then the same batches to the floor, sampling the runtime's resident memory and open databases.
//
// Usage: node bench/ingest/memory.mjs [--batches N] [--concurrency C] [--keep-logs DIR]   (Linux: reads /proc)

import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { devKeys, prepareLocalState, ROOT, seedDevWorkspace, startWrangler } from "../../scripts/local-platform.mjs";
import { serverNewBatch } from "./load-shapes.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const BATCHES = arg("batches", 60);
const CONCURRENCY = arg("concurrency", 8);
const keys = devKeys({});
const auth = `Basic ${Buffer.from(`${keys.writeKey}:`).toString("base64")}`;

/** The workerd process of a dev server (the one of its process group holding the most files), or null. */
function runtimeOf(server) {
  let best = null;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const pgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (pgid !== server.child.pid || !readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd")) continue;
      const files = readdirSync(`/proc/${pid}/fd`).length;
      if (!best || files > best.files) best = { pid, files };
    } catch {}
  }
  return best?.pid ?? null;
}

/** Resident memory (MB) and open object databases (`*.sqlite`, not their -wal/-shm) of process `pid`. */
function sample(pid) {
  const rss = Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]) / 1024;
  let databases = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.endsWith(".sqlite") && !target.endsWith("metadata.sqlite")) databases++;
    } catch {}
  }
  return { rss, databases };
}

async function load(server, url, bodies) {
  const pid = runtimeOf(server);
  const baseline = sample(pid);
  const samples = [];
  const timer = setInterval(() => {
    try {
      samples.push(sample(pid));
    } catch {}
  }, 500);
  let next = 0;
  let status5xx = 0;
  const t0 = performance.now();
  async function worker() {
    while (next < bodies.length) {
      const body = JSON.stringify(bodies[next++]);
      for (;;) {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: auth },
          body,
        });
        await res.text();
        if (res.status === 200) break;
        if (res.status >= 500) status5xx++;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  clearInterval(timer);
  const peak = samples.reduce((a, s) => (s.databases > a.databases ? s : a), baseline);
  return {
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    baseline_rss_mb: Math.round(baseline.rss),
    peak_live_objects: peak.databases,
    rss_at_peak_mb: Math.round(peak.rss),
    max_rss_mb: Math.round(Math.max(...samples.map((s) => s.rss))),
    // Growth over the idle runtime per object then open: the runtime keeps what it allocated, so this is read at the
    // peak rather than as a slope over samples taken while objects are being evicted.
    rss_per_live_object_kb: Math.round(((peak.rss - baseline.rss) * 1024) / Math.max(1, peak.databases)),
    answered_5xx: status5xx,
    nomem_in_log: (server.output().match(/SQLITE_NOMEM/g) ?? []).length,
  };
}

async function main() {
  if (process.platform !== "linux") {
    console.log("bench/ingest/memory.mjs reads the runtime's memory from /proc: Linux only; skipped.");
    return;
  }
  const dirs = [mkdtempSync(path.join(tmpdir(), "tessera-mem-")), mkdtempSync(path.join(tmpdir(), "floor-mem-"))];
  let tessera;
  let floor;
  try {
    prepareLocalState({ persistTo: dirs[0], quiet: true });
    const logs = process.argv.indexOf("--keep-logs");
    const logTo = (name) => (logs > 0 ? path.join(process.argv[logs + 1], `${name}.log`) : undefined);
    tessera = await startWrangler({ persistTo: dirs[0], keys, logTo: logTo("tessera") });
    await seedDevWorkspace({ url: tessera.url, keys });
    floor = await startWrangler({
      persistTo: dirs[1],
      keys,
      config: path.join(ROOT, "bench/floor/wrangler.toml"),
      logTo: logTo("floor"),
    });
    const runId = `mem-${Date.now().toString(36)}`;
    const bodies = Array.from({ length: BATCHES }, (_, n) => serverNewBatch(runId, n).body);
    const results = {
      batches: BATCHES,
      new_visitors: BATCHES * 100,
      concurrency: CONCURRENCY,
      tessera: await load(tessera, `${tessera.url}/v1/batch`, bodies),
    };
    await tessera.stop();
    results.floor = await load(floor, `${floor.url}/floor/do`, bodies);
    console.log(JSON.stringify(results, null, 2));
  } finally {
    await tessera?.stop();
    await floor?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

await main();
