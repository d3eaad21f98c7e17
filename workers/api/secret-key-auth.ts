import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { timingSafeEqual } from "hono/utils/buffer";
import { sha256Hex } from "../../d1/hash";
import type { Issuer } from "../../d1/queries/api-keys";
import { lookupKeyFrom } from "../shared/api-keys";
import type { AppEnv } from "../shared/app-env";
import { credentialFrom } from "../shared/basic-auth";
import { HttpError, unauthenticated } from "../shared/errors";
import { runOnceByIdempotencyKey } from "./idempotency";

/**
 * The one answer to a key that cannot read, whatever the reason (unknown, revoked, or a write key): distinct texts
 * would let anyone holding a string learn whether it is a live key of some workspace (issue 10, finding 9).
 */
export const INVALID_SECRET_KEY =
  "Invalid secret key: send a live workspace secret key as Authorization: Bearer <key> (a write key never reads)";

/**
 * Read APIs take a workspace secret key (`Authorization: Bearer sk_…`, or Basic with the key as user).
 * A write key is refused like any invalid key: it ships in web pages, so it must never read profiles.
 * A call that changes something runs once per `Idempotency-Key` it carries ({@link runOnceByIdempotencyKey}).
 */
export const requireSecretKey = createMiddleware<AppEnv>(async (c, next) => {
  const key = credentialFrom(c.req.header("authorization"));
  if (!key) throw unauthenticated("Missing credentials: send Authorization: Bearer <secret key>");
  const owner = await lookupKeyFrom(c.env, c.req.header("cf-connecting-ip") ?? null, key);
  if (owner?.kind !== "secret") throw unauthenticated(INVALID_SECRET_KEY);
  c.set("workspaceId", owner.workspaceId);
  // Awaited here, not handed back: a call it refuses before its first await rejects at once, and a rejection
  // handed on unawaited is reported by workerd as unhandled before Hono's handler gets to it.
  return await runOnceByIdempotencyKey(c, next);
});

/**
 * The secret key a request passed {@link requireSecretKey} with, as the issuer of what the call creates (a key, a
 * source): the write runs only while that key is live.
 */
export async function issuerOf(c: Context<AppEnv>): Promise<Issuer> {
  // requireSecretKey has checked the credential, so it is there.
  const key = credentialFrom(c.req.header("authorization")) as string;
  return { workspaceId: c.var.workspaceId, keyHash: await sha256Hex(key) };
}

/** The answer to a call whose key was revoked between the key check and its write: it created nothing. */
export const REVOKED_MEANWHILE = "This secret key was revoked meanwhile; nothing was created";

/** Bootstrap and operator APIs take the deployment's ADMIN_TOKEN (a Worker secret). */
export const requireAdminToken = createMiddleware<AppEnv>(async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  if (!expected) throw new HttpError(403, "forbidden", "ADMIN_TOKEN is not configured on this deployment");
  const given = credentialFrom(c.req.header("authorization"));
  // Hono compares digests of both sides, so neither the token's content nor its length leaks through timing.
  if (!given || !(await timingSafeEqual(given, expected))) throw unauthenticated("Invalid admin token");
  await next();
});
