import { createMiddleware } from "hono/factory";
import { timingSafeEqual } from "hono/utils/buffer";
import { lookupKey } from "../shared/api-keys";
import type { AppEnv } from "../shared/app-env";
import { credentialFrom } from "../shared/basic-auth";
import { HttpError, unauthenticated } from "../shared/errors";

/**
 * Read APIs take a workspace secret key (`Authorization: Bearer sk_…`, or Basic with the key as user).
 * A write key is recognised and refused: it ships in web pages, so it must never read profiles.
 */
export const requireSecretKey = createMiddleware<AppEnv>(async (c, next) => {
  const key = credentialFrom(c.req.header("authorization"));
  if (!key) throw unauthenticated("Missing credentials: send Authorization: Bearer <secret key>");
  const owner = await lookupKey(c.env.DB, key);
  if (!owner) throw unauthenticated("Unknown or revoked secret key");
  if (owner.kind !== "secret") throw unauthenticated("A write key cannot read: use the workspace's secret key");
  c.set("workspaceId", owner.workspaceId);
  await next();
});

/** Bootstrap and operator APIs take the deployment's ADMIN_TOKEN (a Worker secret). */
export const requireAdminToken = createMiddleware<AppEnv>(async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  if (!expected) throw new HttpError(403, "forbidden", "ADMIN_TOKEN is not configured on this deployment");
  const given = credentialFrom(c.req.header("authorization"));
  // Hono compares digests of both sides, so neither the token's content nor its length leaks through timing.
  if (!given || !(await timingSafeEqual(given, expected))) throw unauthenticated("Invalid admin token");
  await next();
});
