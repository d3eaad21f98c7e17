import { createRoute, z } from "@hono/zod-openapi";
import { getCookie, setCookie } from "hono/cookie";
import { cors } from "hono/cors";
import { openApiRoutes } from "../shared/openapi-routes";
import { jsonResponse, preflightRouteDoc } from "../shared/route-docs";

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
export const idCookieRoutes = openApiRoutes();

const query = (name: string, description: string) => ({
  name,
  in: "query" as const,
  description,
  schema: { type: "string" as const },
});
// The query is documented, not validated: an id the server cannot use is ignored, never an error.
const idRoute = createRoute({
  method: "get",
  path: "/v1/id",
  tags: ["Browser SDK"],
  summary: "Keep the anonymous id in a server-set cookie",
  description:
    "Sets `tessera_id` (HttpOnly, 1 year, SameSite=Lax) and answers the id: the cookie's when it has one, else the " +
    "SDK's `id`, else a new UUID. CORS echoes the Origin with credentials.",
  parameters: [
    query("id", "The SDK's anonymous id, adopted when the cookie has none (8–64 of `A-Za-z0-9_-`)."),
    query("domain", "The site's registrable domain, to widen the cookie to it when this host is under it."),
  ],
  responses: {
    200: jsonResponse(z.object({ anonymousId: z.string() }), "The anonymous id, now in the cookie."),
  },
});
idCookieRoutes.openAPIRegistry.registerPath(preflightRouteDoc("/v1/id", "Browser SDK"));

idCookieRoutes.use("/v1/id", cors({ origin: (origin) => origin || null, credentials: true, allowMethods: ["GET"] }));

idCookieRoutes.openapi(idRoute, (c) => {
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
  return c.json({ anonymousId: id }, 200);
});
