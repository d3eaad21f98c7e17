/**
 * The shared frame of every mock vendor server (reference/maps.md §2): a Hono app on a free local port, with
 *
 * - a request log (`requests`) with the status each was answered, so tests assert on what the plugin actually sent
 *   and what it was told (a 429 storm shows as its 429s);
 * - fault injection (`fault()`): answer the next N matching requests, or every one until a given time (an outage of
 *   a few seconds), with a given status, headers and body, or after a delay (outages, 5xx, slow responses, the
 *   vendor's own throttling answer);
 * - a sliding-window rate-limit emulator per account (`rateLimit`), with a configurable window so tests stay fast;
 * - `reset()` between tests;
 * - for a mock driven by hand (`npm run mocks`, scripts/mocks.mjs): a fixed `port`, a request log kept to its latest
 *   `keepRequests`, and a `/__mock/` surface (`control`) answered before the vendor's own auth, faults and log:
 *   `GET /__mock/requests?limit=`, `POST /__mock/faults` (a {@link Fault} with a string path), `POST /__mock/reset`,
 *   and whatever routes `control` adds (reference/maps.md §2's conventions).
 *
 * Each vendor's mock (`hubspot.ts`, …) adds its routes, auth and error envelopes to `app`, and uses `limiter` with
 * its own throttling signal.
 *
 * @example
 * const mock = await startMockVendor((app, kit) => { app.get("/ping", (c) => c.json({ ok: true })); });
 * await fetch(`${mock.url}/ping`); mock.requests.length // 1
 * await mock.stop();
 */
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  at: number;
  /** The status it was answered with, and when (both unset while in flight). */
  status?: number;
  answeredAt?: number;
}

export interface Fault {
  match: { method?: string; path?: string | RegExp };
  /** How many matching requests get this answer (default 1; unlimited while `until` is set). */
  times?: number;
  /** Epoch ms: every matching request until then gets this answer (an outage of a given length). */
  until?: number;
  /** Answer with this instead of the real route; left out, the real route answers after `delayMs`. */
  respond?: { status: number; headers?: Record<string, string>; body?: unknown };
  delayMs?: number;
}

/** A sliding window of `limit` requests per `windowMs` for each account key. */
export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();
  /** When each refused request arrived (Marketo refuses inside an HTTP 200, so the status log does not show it). */
  readonly refusedAt: number[] = [];
  enabled = true;

  constructor(
    public limit: number,
    public windowMs: number,
  ) {}

  /** Records a request for `account` and says whether it is within the limit, with what remains. */
  take(account: string, now = Date.now()): { allowed: boolean; remaining: number; resetMs: number } {
    const recent = (this.hits.get(account) ?? []).filter((t) => t > now - this.windowMs);
    const allowed = !this.enabled || recent.length < this.limit;
    if (allowed) recent.push(now);
    else this.refusedAt.push(now);
    this.hits.set(account, recent);
    const resetMs = recent.length ? Math.max(0, recent[0] + this.windowMs - now) : 0;
    return { allowed, remaining: Math.max(0, this.limit - recent.length), resetMs };
  }

  reset(): void {
    this.hits.clear();
    this.refusedAt.length = 0;
  }
}

export interface MockKit {
  requests: RecordedRequest[];
  faults: Fault[];
}

/** How a mock listens and what it keeps; every vendor's options take these. */
export interface MockServerOptions {
  /** The port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Keep only the latest this many requests in `requests` (default: all, as tests read them all). */
  keepRequests?: number;
  /**
   * Adds the `/__mock/` surface: the frame's routes, then those `control` adds to `app` (under `/__mock/`). They are
   * answered before the vendor's routes, unlogged and unfaulted; left out, the mock has no such routes.
   */
  control?: (app: Hono) => void;
  /** Does not keep the Node process alive (a mock started on demand, with no test to stop it). */
  unref?: boolean;
}

export interface MockVendor extends MockKit {
  url: string;
  /** Adds a fault for the next matching requests. */
  fault(f: Fault): void;
  /** Clears the log and faults, then calls the vendor's own reset (state, limiter). */
  reset(): void;
  stop(): Promise<void>;
}

/**
 * Starts a mock on a free port (or `options.port`). `define` adds the vendor's routes; `onReset` clears its state.
 */
export async function startMockVendor(
  define: (app: Hono, kit: MockKit) => void,
  onReset: () => void = () => {},
  options: MockServerOptions = {},
): Promise<MockVendor> {
  const kit: MockKit = { requests: [], faults: [] };
  const reset = () => {
    kit.requests.length = 0;
    kit.faults.length = 0;
    onReset();
  };
  const app = new Hono();
  // Before the log and the vendor's auth: a person looking at the mock is not a call to the vendor.
  if (options.control) {
    defineControl(app, kit, reset);
    options.control(app);
  }
  const keep = options.keepRequests ?? Number.POSITIVE_INFINITY;
  app.use(async (c, next) => {
    const body = await c.req.raw.clone().text();
    const url = new URL(c.req.url);
    const record: RecordedRequest = {
      method: c.req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(c.req.raw.headers),
      body,
      at: Date.now(),
    };
    kit.requests.push(record);
    if (kit.requests.length > keep) kit.requests.splice(0, kit.requests.length - keep);
    // An outage that has ended is forgotten.
    for (const f of kit.faults.filter((f) => f.until !== undefined && f.until <= record.at)) {
      kit.faults.splice(kit.faults.indexOf(f), 1);
    }
    const fault = kit.faults.find((f) => matches(f, record));
    if (fault) {
      if (fault.until === undefined) {
        fault.times = (fault.times ?? 1) - 1;
        if (fault.times <= 0) kit.faults.splice(kit.faults.indexOf(fault), 1);
      }
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.respond) {
        const { status, headers = {}, body: answer } = fault.respond;
        const text = answer === undefined ? "" : typeof answer === "string" ? answer : JSON.stringify(answer);
        record.status = status;
        record.answeredAt = Date.now();
        return new Response(text, {
          status,
          headers: { "content-type": "application/json", ...headers },
        });
      }
    }
    await next();
    record.status = c.res.status;
    record.answeredAt = Date.now();
  });
  define(app, kit);
  const { server, port } = await listen(app, options.port ?? 0);
  if (options.unref) server.unref();
  return {
    ...kit,
    get requests() {
      return kit.requests;
    },
    get faults() {
      return kit.faults;
    },
    url: `http://127.0.0.1:${port}`,
    fault: (f) => kit.faults.push({ ...f }),
    reset,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function matches(f: Fault, r: RecordedRequest): boolean {
  if (f.match.method && f.match.method.toUpperCase() !== r.method) return false;
  const { path } = f.match;
  if (path === undefined) return true;
  return typeof path === "string" ? path === r.path : path.test(r.path);
}

/** The frame's own `/__mock/` routes: the request log, faults and reset, over HTTP. */
function defineControl(app: Hono, kit: MockKit, reset: () => void): void {
  app.get("/__mock/requests", (c) => {
    const limit = Number(c.req.query("limit") ?? 50);
    return c.json(kit.requests.slice(-Math.max(1, Number.isInteger(limit) ? limit : 50)));
  });
  app.post("/__mock/faults", async (c) => {
    const fault = (await c.req.json().catch(() => undefined)) as Fault | undefined;
    if (typeof fault?.match !== "object" || fault.match === null)
      return c.json({ error: 'a fault is {"match":{"method"?,"path"?},"times"?,"until"?,"respond"?,"delayMs"?}' }, 400);
    kit.faults.push({ ...fault });
    return c.json({ faults: kit.faults.length });
  });
  app.post("/__mock/reset", (c) => {
    reset();
    return c.json({ reset: true });
  });
}

function listen(app: Hono, port: number): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, (info) => {
      server.off("error", reject);
      resolve({ server, port: info.port });
    });
    // A fixed port already taken: said at once, not a mock that never answers.
    server.once("error", reject);
  });
}
