import { waitUntil } from "cloudflare:workers";

/**
 * Keeps the current request's context alive until `work` settles: for work that other requests wait on too (a group
 * commit's D1 batch, a cache's in-flight load). The runtime ties I/O to the request that started it; once that request
 * ends — it answered, or its client went away — I/O it left pending is cancelled and never settles, and every request
 * waiting on it hangs without an answer, as would every later group of the same key queued behind it. Measured on
 * wrangler 4.86.0 with a throw-away Worker: a second request awaiting a load the first started hung until its client
 * gave up (20 s) once the first had answered; with the load handed to `waitUntil` it was answered when the load
 * completed (2 s). Whether the local proxy's dropped connections (the `503 Your worker restarted mid-request` of
 * workers-sdk#14641) end requests this way was not shown; a client that goes away does on Cloudflare.
 *
 * Outside a request's context (module scope, a Durable Object's own work) there is nothing to keep alive.
 *
 * @example keepAlive(group.settled);
 */
export function keepAlive(work: Promise<unknown>): void {
  try {
    // The callers see the work's failure; this copy only keeps the context alive.
    waitUntil(work.catch(() => undefined));
  } catch {
    // No request context here.
  }
}
