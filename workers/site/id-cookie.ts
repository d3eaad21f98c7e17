import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { cors } from "hono/cors";
import type { AppEnv } from "../shared/app-env";

/** The server-set cookie holding the anonymous id. */
export const ID_COOKIE = "tessera_id";
const ONE_YEAR = 31_536_000;
/** Ids are UUIDs from the SDK; anything else (over-long, odd characters) is not taken from the client. */
const VALID_ID = /^[\w-]{8,64}$/;

/**
 * `GET /v1/id?id=&domain=` keeps the anonymous id in a cookie the server sets (HttpOnly, 1 year, SameSite=Lax),
 * which Safari's 7-day cap on script-written storage does not touch. The cookie's id wins; without one the
 * SDK's `id` is adopted. `domain` widens the cookie to the site's registrable domain when this host is under it.
 * CORS echoes the Origin with credentials, so a page on the site can call it with `credentials: "include"`.
 */
export const idCookieRoutes = new Hono<AppEnv>();

idCookieRoutes.use("/v1/id", cors({ origin: (origin) => origin || null, credentials: true, allowMethods: ["GET"] }));

idCookieRoutes.get("/v1/id", (c) => {
  const url = new URL(c.req.url);
  const fromCookie = getCookie(c, ID_COOKIE);
  const fromClient = c.req.query("id");
  const id = [fromCookie, fromClient].find((v) => v && VALID_ID.test(v)) ?? crypto.randomUUID();
  const domain = c.req.query("domain")?.replace(/^\./, "").toLowerCase();
  const host = url.hostname;
  setCookie(c, ID_COOKIE, id, {
    maxAge: ONE_YEAR,
    path: "/",
    sameSite: "Lax",
    httpOnly: true,
    secure: url.protocol === "https:",
    domain: domain && (host === domain || host.endsWith(`.${domain}`)) ? domain : undefined,
  });
  c.header("Cache-Control", "no-store");
  return c.json({ anonymousId: id });
});
