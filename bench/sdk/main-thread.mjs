// Chromium main-thread time to load an SDK and track 1,000 events until the collector has them all:
// CDP Performance.getMetrics TaskDuration (all main-thread tasks) and ScriptDuration, before vs after.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH, ensureChromium } from "../../scripts/chromium.mjs";

const root = path.join(import.meta.dirname, "../..");
const EVENTS = 1000;
const files = {
  "/sdk/tessera.min.js": readFileSync(path.join(root, "packages/browser/dist/tessera.min.js")),
  "/snippet.min.js": readFileSync(path.join(root, "packages/browser/dist/snippet.min.js")),
  "/segment.js": readFileSync(path.join(root, "node_modules/@segment/analytics-next/dist/umd/standalone.js")),
};

/** A local site + collector: counts delivered messages for both wire formats (batch and one-per-request). */
async function startServer() {
  const state = { received: 0, requests: 0 };
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const cors = {
      "Access-Control-Allow-Origin": req.headers.origin ?? "*",
      "Access-Control-Allow-Credentials": "true",
    };
    if (req.method === "OPTIONS") return res.writeHead(204, { ...cors, "Access-Control-Allow-Headers": "*" }).end();
    if (req.method === "POST") {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        state.requests++;
        try {
          const json = JSON.parse(body);
          state.received += Array.isArray(json.batch)
            ? json.batch.filter((m) => m.type === "track").length
            : json.type === "track"
              ? 1
              : 0;
        } catch {}
        res.writeHead(200, { ...cors, "Content-Type": "application/json" }).end('{"success":true}');
      });
      return;
    }
    if (url.pathname.startsWith("/v1/projects/")) {
      // Segment's settings, served locally: only the Segment.io destination, pointed at this server.
      // The write key picks the delivery strategy: analytics-next's default (one request per event) or batching.
      const io = { apiKey: "wk_bench", apiHost: `${req.headers.host}/v1`, protocol: "http" };
      if (url.pathname.includes("wk_batching")) {
        io.deliveryStrategy = { strategy: "batching", config: { size: 20, timeout: 5000 } };
      }
      const settings = {
        integrations: { "Segment.io": io },
        plan: {},
        metrics: { sampleRate: 0 },
        remotePlugins: [],
      };
      return res.writeHead(200, { ...cors, "Content-Type": "application/json" }).end(JSON.stringify(settings));
    }
    const file = files[url.pathname];
    if (file) return res.writeHead(200, { "Content-Type": "application/javascript" }).end(file);
    res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>bench</title><body></body>");
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://localhost:${server.address().port}`, state, close: () => server.close() };
}

const SDKS = {
  tessera: {
    load: (origin) => `${files["/snippet.min.js"]}
      tessera.load("wk_bench", { apiHost: ${JSON.stringify(origin)}, cdn: ${JSON.stringify(origin)} });`,
    ready: () => window.tessera.ready(),
    track: (n) => {
      for (let i = 0; i < n; i++) window.tessera.track("Bench Event", { i, plan: "pro", path: location.pathname });
    },
  },
  "analytics-next": {
    load: (origin) => segmentStub(origin, "wk_bench"),
    ready: segmentReady,
    track: segmentTrack,
  },
  "analytics-next batching": {
    load: (origin) => segmentStub(origin, "wk_batching"),
    ready: segmentReady,
    track: segmentTrack,
  },
};

/** What Segment's snippet leaves behind: the write key and the CDN the standalone build fetches settings from. */
function segmentStub(origin, writeKey) {
  return `window.analytics = []; analytics._writeKey = "${writeKey}"; analytics._cdn = ${JSON.stringify(origin)};
    var s = document.createElement("script"); s.src = "/segment.js"; document.head.appendChild(s);`;
}
async function segmentReady() {
  while (Array.isArray(window.analytics)) await new Promise((r) => setTimeout(r, 5));
  await window.analytics.ready();
}
function segmentTrack(n) {
  for (let i = 0; i < n; i++) window.analytics.track("Bench Event", { i, plan: "pro", path: location.pathname });
}

async function metrics(cdp) {
  const { metrics } = await cdp.send("Performance.getMetrics");
  const get = (name) => metrics.find((m) => m.name === name)?.value ?? 0;
  return { task: get("TaskDuration") * 1000, script: get("ScriptDuration") * 1000 };
}

/** One measured run of `name` in a fresh browser profile. */
async function run(name, server) {
  const sdk = SDKS[name];
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-bench-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/${name}`);
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable", { timeDomain: "threadTicks" });
    server.state.received = 0;
    server.state.requests = 0;
    const before = await metrics(cdp);
    const started = Date.now();
    await page.addScriptTag({ content: sdk.load(server.url) });
    await page.evaluate(sdk.ready);
    await page.evaluate(sdk.track, EVENTS);
    while (server.state.received < EVENTS) {
      if (Date.now() - started > 120_000) throw new Error(`${name}: only ${server.state.received} events arrived`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const delivered = Date.now() - started;
    const after = await metrics(cdp);
    return {
      task: after.task - before.task,
      script: after.script - before.script,
      delivered,
      requests: server.state.requests,
    };
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs each SDK `runs` times (interleaved) and returns medians. */
export async function mainThreadTable(runs = 5) {
  ensureChromium();
  const server = await startServer();
  const results = Object.fromEntries(Object.keys(SDKS).map((k) => [k, []]));
  try {
    for (let i = 0; i < runs; i++) for (const name of Object.keys(SDKS)) results[name].push(await run(name, server));
  } finally {
    server.close();
  }
  return Object.entries(results).map(([name, rs]) => ({
    name,
    task: median(rs.map((r) => r.task)),
    script: median(rs.map((r) => r.script)),
    delivered: median(rs.map((r) => r.delivered)),
    requests: median(rs.map((r) => r.requests)),
  }));
}
