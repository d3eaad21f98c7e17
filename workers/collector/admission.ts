/**
 * Back-pressure for ingestion: under load this isolate cannot carry, answer `429` with `Retry-After` quickly rather
 * than queue requests until the platform gives up on them (a `503` that says nothing about what was stored).
 *
 * A request cut at its deadline keeps running in the background once its work has begun (`abandonIfAnswered` drops
 * one that had not). Its retry must not start the same work a second time while the first is still at it (an import
 * batch of new people was redone over and over, each copy slowing the other down): a client that sends an
 * `Idempotency-Key` header (`tessera import` does: a hash of the body) has its retry wait for the running original
 * first. The deadline itself stays fixed rather than scaled to the batch:
 * it is what keeps a slow isolate answering (429) before the platform cuts it (503). Clients without the header
 * (Segment's SDKs) behave as before; their retry is stored once all the same, by message id.
 */
import type { Context, MiddlewareHandler } from "hono";
import { HttpError } from "../shared/errors";
import { MAX_IDEMPOTENCY_KEY_LENGTH } from "../shared/idempotency-key";
import { keepAlive } from "../shared/keep-alive";
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
 * A retry waiting for its running original does no work and does not count.
 *
 * @example routes.post("/v1/batch", admission(DEFAULT_ADMISSION), readIngest, handler)
 */
export function admission(limits: AdmissionLimits): MiddlewareHandler<CollectorEnv> {
  let inFlight = 0;
  /** Requests in flight by caller and `Idempotency-Key`; settles (never rejects) when the work ends. */
  const running = new Map<string, Promise<void>>();
  const busy = (why: string) => busyError(limits, why);

  /** True when `work` settled within the deadline. */
  async function settledInTime(work: Promise<unknown>): Promise<boolean> {
    let timer!: ReturnType<typeof setTimeout>;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), limits.deadlineMs);
    });
    try {
      return (await Promise.race([work, late])) !== "late";
    } finally {
      clearTimeout(timer);
    }
  }

  return async (c, next) => {
    const key = idempotencyKeyOf(c);
    const original = key ? running.get(key) : undefined;
    // Waiting costs nothing; once the original has ended, this request finds its people known and its messages
    // stored, so doing it is cheap and gives the client a true answer (the original's was dropped at its deadline).
    if (original && !(await settledInTime(original)))
      throw busy("The collector is still working on this request (same Idempotency-Key)");
    if (inFlight >= limits.maxInFlight) throw busy("The collector is at capacity");
    inFlight++;
    const work = next().finally(() => {
      inFlight--;
    });
    if (key) {
      const ended = work.then(
        () => {},
        () => {},
      );
      running.set(key, ended);
      ended.then(() => {
        if (running.get(key) === ended) running.delete(key);
      });
    }
    // The work goes on when its answer is dropped at the deadline, or when the client goes away: it stores or queues
    // what it accepted, and `inFlight` and `running` count it until it ends (cancelled, it would never end, and the
    // isolate would count it against its capacity for good).
    keepAlive(work);
    if (await settledInTime(work)) return;
    c.set("answeredAtDeadline", true);
    work.catch((err) => console.error("ingestion finished after its deadline with an error", err));
    throw busy(`The collector did not finish within ${limits.deadlineMs} ms`);
  };
}

/** The 429 of back-pressure: nothing of the request was acknowledged, and `Retry-After` says when to send it again. */
export function busyError(limits: AdmissionLimits, why: string): HttpError {
  return new HttpError(429, "rate_limit_error", `${why}; nothing of this request was acknowledged, retry it`, {
    headers: { "Retry-After": String(limits.retryAfterSeconds) },
  });
}

/**
 * Stops a request that admission already answered `429` at its deadline, if its work has not begun: nothing of it was
 * acknowledged and the client sends it again, so beginning now only doubles the work of an isolate that is already
 * late (and its body may be gone: wrangler's dev server drains it once the answer is sent). Work that has begun goes
 * on, so what it accepted is stored or queued. Called where work begins: before and while the body is read, and before
 * its messages are handled.
 */
export function abandonIfAnswered(c: Context<CollectorEnv>): void {
  if (c.get("answeredAtDeadline"))
    throw new HttpError(429, "rate_limit_error", "Answered at the deadline before its work began; retry it");
}

/** The caller's `Idempotency-Key`, scoped by its credentials so one caller's request never waits on another's. */
function idempotencyKeyOf(c: Context<CollectorEnv>): string | null {
  const key = c.req.header("idempotency-key");
  const authorization = c.req.header("authorization");
  // A longer key is ignored here (the request runs as if it had none): message ids keep a batch stored once anyway.
  // Without a header credential the caller is unknown until the body is read, so the key cannot be scoped.
  if (!key || !authorization || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) return null;
  return `${authorization}\n${key}`;
}
