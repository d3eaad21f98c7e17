// What every phase of the audiences benchmark shares: a fresh local platform, an HTTP client for it, polling.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  devKeys,
  freePort,
  prepareLocalState,
  seedDevWorkspace,
  startWrangler,
} from "../../scripts/local-platform.mjs";
import { serverBatch } from "../ingest/load-shapes.mjs";
import { AUDIENCES, COMPUTED_TRAITS } from "./definitions.mjs";

const keys = devKeys({});
const basic = `Basic ${Buffer.from(`${keys.writeKey}:`).toString("base64")}`;
const bearer = `Bearer ${keys.secretKey}`;
let resent = 0;
/** A saturated local platform can take tens of seconds to answer a read; polls give up on one and ask again. */
const READ_TIMEOUT_MS = 30_000;

/** How many batches were sent again after a 429 or a 503 since the last call (a figure to print beside throughput). */
export function takeRetryCount() {
  const n = resent;
  resent = 0;
  return n;
}

/** Process groups of the platforms still running, ended if this process is interrupted or fails. */
const running = new Set();
process.once("exit", () => {
  for (const pgid of running) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {}
  }
});
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));

let logDir;
let platforms = 0;
/** Keep every platform's whole `wrangler dev` output in `dir` (`<phase>-<n>.log`), to read what the runtime said. */
export function keepLogsIn(dir) {
  logDir = dir;
}

/**
 * `wrangler dev` over brand-new state with the dev workspace seeded; `stop()` ends it and deletes the state. `phase`
 * names its log when logs are kept.
 */
export async function freshPlatform(phase = "platform") {
  const persistTo = mkdtempSync(path.join(tmpdir(), "tessera-bench-audiences-"));
  prepareLocalState({ persistTo, quiet: true });
  const logTo = logDir && path.join(logDir, `${phase}-${++platforms}.log`);
  const server = await startWrangler({ port: await freePort(), persistTo, keys, logTo });
  running.add(server.child.pid);
  await seedDevWorkspace({ url: server.url, keys });
  return {
    ...client(server.url),
    output: server.output,
    async stop() {
      await server.stop();
      running.delete(server.child.pid);
      rmSync(persistTo, { recursive: true, force: true });
    },
  };
}

/** The ingestion API (write key) and the admin/profile APIs (secret key) of the platform at `url`. */
export function client(url) {
  return {
    url,
    /**
     * `POST /v1/batch`; the parsed answer, or a throw for anything but 200. A 429 or a 503 is sent again, as Segment's
     * clients do (messageIds make that safe): `wrangler dev`'s proxy answers 503 "Your worker restarted mid-request" for
     * POSTs that take about 5 s although the worker never restarted (cloudflare/workers-sdk#14641).
     */
    async batch(body) {
      const payload = JSON.stringify(body);
      for (let attempt = 1; ; attempt++) {
        const res = await fetch(`${url}/v1/batch`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: basic },
          body: payload,
        });
        const text = await res.text();
        if (res.status === 200) return JSON.parse(text);
        if ((res.status !== 503 && res.status !== 429) || attempt === 10) {
          throw new Error(`/v1/batch answered ${res.status}: ${text.slice(0, 300)}`);
        }
        resent++;
        // 429 is the collector's back-pressure (its 10 s deadline): wait as it says, as an SDK does.
        const retryAfterMs = Number(res.headers.get("retry-after") ?? 0) * 1000;
        await new Promise((r) => setTimeout(r, Math.max(retryAfterMs, 250 * attempt)));
      }
    },
    /**
     * A secret-key call; `{status, body, resent}`. `wrangler dev`'s proxy answers `503 Your worker restarted
     * mid-request` (plain text) when its connection to workerd drops under a request (cloudflare/workers-sdk#14641;
     * bench/README "5xx"): the call is sent again, as the batch sender does, and `resent` says so — a create that
     * did land the first time then answers `409`.
     */
    async api(method, route, body) {
      for (let resent = 0; ; resent++) {
        const res = await fetch(`${url}${route}`, {
          method,
          headers: { authorization: bearer, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(READ_TIMEOUT_MS),
        });
        const text = await res.text();
        if (res.status === 503 && text.startsWith("Your worker restarted") && resent < 5) {
          console.error(`${method} ${route}: the local proxy's 503; sending it again`);
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        return { status: res.status, body: text ? JSON.parse(text) : undefined, resent };
      }
    },
    /** `GET /v1/profiles/:ref`, undefined while unknown. */
    async profile(ref) {
      const res = await fetch(`${url}/v1/profiles/${encodeURIComponent(ref)}`, {
        headers: { authorization: bearer },
        signal: AbortSignal.timeout(READ_TIMEOUT_MS),
      });
      if (res.status === 404) {
        await res.arrayBuffer();
        return undefined;
      }
      if (!res.ok) throw new Error(`profile ${ref} answered ${res.status}: ${await res.text()}`);
      return res.json();
    },
  };
}

/** Creates definitions through the admin API, in order; throws on anything but 201. */
export async function define(platform, { computed = COMPUTED_TRAITS, audiences = AUDIENCES } = {}) {
  for (const [route, bodies] of [
    ["/v1/computed-traits", computed],
    ["/v1/audiences", audiences],
  ]) {
    for (const body of bodies) {
      const res = await platform.api("POST", route, body);
      if (res.status !== 201)
        throw new Error(`POST ${route} ${body.key} answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
  }
}

/** Polls `read` every `every` ms until `done(value)`; throws after `within` ms with the last value. */
export async function pollUntil(read, done, { within, every = 100 }) {
  const deadline = Date.now() + within;
  for (;;) {
    // A read that timed out counts as "not yet".
    const value = await read().catch((err) => ({ unanswered: err.name }));
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`not done after ${within} ms; last: ${JSON.stringify(value).slice(0, 500)}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * The server load shape (100 `Order Completed` with `channel: "pos"`, the last renamed `Probe <n>`) with every message
 * from a visitor never seen before: 100 new profiles per batch.
 */
export function newVisitorsServerBatch(runId, n) {
  const shaped = serverBatch(runId, n);
  shaped.body.batch.forEach((message, i) => {
    message.anonymousId = `new-${runId}-${n}-${i}`;
  });
  return { ...shaped, visitor: `anonymous_id:${shaped.body.batch.at(-1).anonymousId}` };
}

/** Sends `count` batches made by `make(n)` with `concurrency` in flight; events accepted and seconds taken. */
export async function sendBatches(platform, make, count, concurrency) {
  let next = 0;
  let events = 0;
  const t0 = performance.now();
  async function worker() {
    while (next < count) {
      const answer = await platform.batch(make(next++).body);
      events += answer.accepted;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { events, seconds: (performance.now() - t0) / 1000 };
}

/** The `p`th percentile (nearest rank). */
export function pct(xs, p) {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
