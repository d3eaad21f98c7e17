// Where the Worker's CPU goes under one ingestion shape: a V8 CPU profile of the Worker's isolate (the collector and,
// in `wrangler dev`, its Durable Objects), taken through wrangler's DevTools inspector while the shape runs.
//
// Usage: node bench/ingest/profile.mjs [--shape browser|returning|new] [--batches 200] [--floor | --floor-shard]
//        [--definitions] [--out file]
//   --floor profiles the bare Durable Object floor (bench/floor) with the same batches instead of Tessera;
//   --floor-shard the floor with visitors sharing 64 objects (bench/floor's /floor/shard).
//   --definitions first creates the audiences bench's 35 definitions (bench/audiences/definitions.mjs), as a
//   workspace that runs campaigns has them.
// Prints the functions with the most self time and the SQL call sites; writes the .cpuprofile for DevTools.
// D1 runs outside this isolate: its work is not in the profile (it shows as "(idle)" while a request waits for it).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { freePort, prepareLocalState, ROOT, seedDevWorkspace, startWrangler } from "../../scripts/local-platform.mjs";
import { client, define } from "../audiences/platform.mjs";
import { browserBatch, serverBatch, serverNewBatch, serverWarmup } from "./load-shapes.mjs";

const { values: opts } = parseArgs({
  options: {
    shape: { type: "string", default: "browser" },
    batches: { type: "string", default: "200" },
    floor: { type: "boolean", default: false },
    "floor-shard": { type: "boolean", default: false },
    definitions: { type: "boolean", default: false },
    out: { type: "string" },
  },
});
const BATCHES = Number(opts.batches);
if (opts["floor-shard"]) opts.floor = true;
const IN_FLIGHT = 8;
const makers = {
  browser: (runId, n) => browserBatch(runId, n).body,
  returning: (runId, n) => serverBatch(runId, n).body,
  new: (runId, n) => serverNewBatch(runId, n).body,
};
const make = makers[opts.shape];
if (!make) throw new Error(`--shape must be one of ${Object.keys(makers).join(", ")}, got ${opts.shape}`);

const persistTo = mkdtempSync(path.join(tmpdir(), "tessera-profile-"));
prepareLocalState({ persistTo, quiet: true });
const inspectorPort = await freePort();
const server = await startWrangler({
  port: await freePort(),
  persistTo,
  inspectorPort,
  config: opts.floor ? path.join(ROOT, "bench/floor/wrangler.toml") : undefined,
});
try {
  if (!opts.floor) await seedDevWorkspace({ url: server.url });
  if (opts.definitions && !opts.floor) await define(client(server.url));
  const route = opts["floor-shard"] ? "/floor/shard" : opts.floor ? "/floor/do" : "/v1/batch";
  const target = `${server.url}${route}`;
  const authorization = `Basic ${Buffer.from("wk_dev:").toString("base64")}`;
  const send = async (body) => {
    for (;;) {
      const res = await fetch(target, {
        method: "POST",
        headers: { authorization, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      if (res.ok) return;
      await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after") ?? 0.2) * 1000));
    }
  };
  const runId = Date.now().toString(36);
  // Warm: the code is compiled and, for the returning shape, its visitors exist before the profile starts.
  if (opts.shape === "returning") for (const { body } of serverWarmup(runId)) await send(body);
  for (let n = 0; n < 16; n++) await send(make(runId, 1_000_000 + n));

  const devtools = await inspect(inspectorPort);
  await devtools.call("Profiler.enable");
  await devtools.call("Profiler.setSamplingInterval", { interval: 200 });
  await devtools.call("Profiler.start");
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < BATCHES) await send(make(runId, next++));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const { profile } = await devtools.call("Profiler.stop");
  devtools.close();
  const out = opts.out ?? path.join(tmpdir(), `${opts.floor ? "floor" : "tessera"}-${opts.shape}.cpuprofile`);
  writeFileSync(out, JSON.stringify(profile));
  const what = opts.floor ? `floor (${route})` : opts.definitions ? "Tessera with definitions" : "Tessera";
  console.log(`${what}, ${opts.shape}: ${BATCHES} batches in ${seconds.toFixed(1)} s`);
  report(profile);
  console.log(`profile: ${out} (open in Chrome DevTools → Performance)`);
} finally {
  await server.stop();
  // A run's local state is a few hundred MB of object databases; nothing reads it afterwards.
  rmSync(persistTo, { recursive: true, force: true });
}

/** Connects to the Worker's DevTools target; `call` sends one command and resolves with its result. */
async function inspect(port) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const waiting = new Map();
  let id = 0;
  ws.on("message", (raw) => {
    const msg = JSON.parse(raw);
    if (msg.error) console.error(`DevTools: ${JSON.stringify(msg.error)}`);
    waiting.get(msg.id)?.(msg.result);
    waiting.delete(msg.id);
  });
  return {
    call: (method, params = {}) =>
      new Promise((resolve) => {
        waiting.set(++id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Self time per function, and per SQL call site (a native `exec`/`toArray`/`one` under a named caller). */
function report(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map(profile.nodes.flatMap((n) => (n.children ?? []).map((c) => [c, n])));
  // An arrow function is named after the function it was written in (`(anonymous in deliver)`).
  const name = (n) => {
    const where = `${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber}`;
    if (n.callFrame.functionName || !n.callFrame.url) return `${n.callFrame.functionName || "(anonymous)"} ${where}`;
    const outer = parents.get(n.id)?.callFrame.functionName;
    return `(anonymous${outer ? ` in ${outer}` : ""}) ${where}`;
  };
  const selfTime = new Map();
  const sqlTime = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = nodes.get(id);
    const us = profile.timeDeltas[i];
    total += us;
    selfTime.set(name(node), (selfTime.get(name(node)) ?? 0) + us);
    if (["exec", "toArray", "one", "transactionSync"].includes(node.callFrame.functionName)) {
      let caller = parents.get(node.id);
      while (caller && ["exec", "toArray", "one", "transactionSync", ""].includes(caller.callFrame.functionName)) {
        caller = parents.get(caller.id);
      }
      const site = caller ? caller.callFrame.functionName : "?";
      sqlTime.set(site, (sqlTime.get(site) ?? 0) + us);
    }
  });
  const ms = (us) => `${(us / 1000).toFixed(0).padStart(6)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%`;
  console.log(`\nsampled ${(total / 1000).toFixed(0)} ms; self time by function:`);
  for (const [k, v] of [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${ms(v)}  ${k}`);
  console.log("\nSQLite time by calling function:");
  for (const [k, v] of [...sqlTime].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${ms(v)}  ${k}`);
}
