/** Abuse control per write key, in front of everything that costs D1 or Durable Object work. */
import type { MiddlewareHandler } from "hono";
import { HttpError } from "../shared/errors";
import type { CollectorEnv } from "./collector-env";

/** The seam: production uses the `WRITE_KEY_RATE_LIMIT` binding, tests hand in their own. */
export type LimiterFor = (env: Env) => Pick<RateLimit, "limit">;

/** The binding's period (wrangler.toml); a client told to wait this long finds a fresh window. */
const RETRY_AFTER_SECONDS = 10;

export const defaultLimiter: LimiterFor = (env) => env.WRITE_KEY_RATE_LIMIT;

/**
 * Answers 429 `rate_limit_error` with `Retry-After` when the request's write key is over its limit.
 * Runs after authentication (it needs `c.var.writeKey`). A limiter that fails lets traffic through:
 * the binding is approximate abuse control, and refusing events because of it would lose data.
 *
 * @example app.post("/v1/batch", readIngest, rateLimit(defaultLimiter), handler)
 */
export function rateLimit(limiterFor: LimiterFor): MiddlewareHandler<CollectorEnv> {
  return async (c, next) => {
    let allowed = true;
    try {
      allowed = (await limiterFor(c.env).limit({ key: c.var.writeKey })).success;
    } catch (err) {
      console.error("rate limiter unavailable; letting the request through", err);
    }
    if (!allowed) {
      throw new HttpError(
        429,
        "rate_limit_error",
        `Too many requests for this write key; retry in ${RETRY_AFTER_SECONDS} s`,
        {
          headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
        },
      );
    }
    await next();
  };
}
