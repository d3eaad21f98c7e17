/**
 * Back-pressure for ingestion: under load this isolate cannot carry, answer `429` with `Retry-After` quickly rather
 * than queue requests until the platform gives up on them (a `503` that says nothing about what was stored).
 */
import type { MiddlewareHandler } from "hono";
import { HttpError } from "../shared/errors";
import type { CollectorEnv } from "./collector-env";

export interface AdmissionLimits {
  /** Ingestion requests this isolate works on at once; one more is refused at once. */
  maxInFlight: number;
  /**
   * A request not answered by then is answered `429` (well below the platform's own limit) and finishes in the
   * background; the client's retry carries the same message ids, so whatever landed meanwhile is stored once.
   */
  deadlineMs: number;
  retryAfterSeconds: number;
}

/** Eight senders of large batches fit with room to spare; a flood is refused before it costs a body read. */
export const DEFAULT_ADMISSION: AdmissionLimits = { maxInFlight: 32, deadlineMs: 10_000, retryAfterSeconds: 2 };

/**
 * One counter per middleware instance: the collector's routes are built once per isolate, so this bounds the
 * isolate's in-flight ingestion work (a request that passed its deadline still counts until it really ends).
 *
 * @example routes.post("/v1/batch", admission(DEFAULT_ADMISSION), readIngest, handler)
 */
export function admission(limits: AdmissionLimits): MiddlewareHandler<CollectorEnv> {
  let inFlight = 0;
  const busy = (why: string) =>
    new HttpError(429, "rate_limit_error", `${why}; nothing of this request was acknowledged, retry it`, {
      headers: { "Retry-After": String(limits.retryAfterSeconds) },
    });
  return async (c, next) => {
    if (inFlight >= limits.maxInFlight) throw busy("The collector is at capacity");
    inFlight++;
    const work = next().finally(() => {
      inFlight--;
    });
    let passDeadline!: () => void;
    const late = new Promise<"late">((resolve) => {
      passDeadline = () => resolve("late");
    });
    const timer = setTimeout(passDeadline, limits.deadlineMs);
    try {
      if ((await Promise.race([work, late])) !== "late") return;
    } finally {
      clearTimeout(timer);
    }
    // The work goes on (it stores or queues what it accepted); only its answer is dropped.
    const finish = work.catch((err) => console.error("ingestion finished after its deadline with an error", err));
    try {
      c.executionCtx.waitUntil(finish);
    } catch {
      // No execution context (a unit test calling the app directly): the promise runs on regardless.
    }
    throw busy(`The collector did not finish within ${limits.deadlineMs} ms`);
  };
}
