import { createRoute, z } from "@hono/zod-openapi";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { cors } from "hono/cors";
import { HttpError } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { errorResponses, jsonResponse, preflightRouteDoc } from "../shared/route-docs";

/** The server-set cookie holding the anonymous id. */
export const ID_COOKIE = "tessera_id";
const ONE_YEAR = 31_536_000;
/** Ids are UUIDs from the SDK; anything else (over-long, odd characters) is not taken from the client. */
const VALID_ID = /^[\w-]{8,64}$/;

/**
 * `GET /v1/id?id=&domain=` keeps the anonymous id in a cookie the server sets (HttpOnly, 1 year, SameSite=Lax),
 * which Safari's 7-day cap on script-written storage does not touch. The cookie's id wins; without one the
 * SDK's `id` is adopted. `domain` widens the cookie to the site's registrable domain when this host is under it.
 * `replace=1` makes the SDK's `id` win over the cookie's (after `reset()`, the next person on the device must not
 * get the previous one's id back); `forget=1` deletes the cookie (consent withdrawn) and answers 204.
 * Only pages of this host's own site may read the answer (see {@link isSameSiteOrigin}): it is the HttpOnly cookie's
 * value, so echoing any Origin with credentials would hand it to every other site (issue 10, finding 8).
 */
export const idCookieRoutes = openApiRoutes();

const IP_HOST = /^(\d{1,3}(\.\d{1,3}){3}|\[[\da-f:.]+\])$/i;

/**
 * Whether a page at `origin` belongs to the same site as `host` (the host this Worker answers on), so may read the
 * id with credentials. The site is `host` minus its first label when that leaves a domain of two labels or more
 * (`collect.example.com` → `example.com`), else `host` itself (`example.com`, `localhost`, an IP address); the origin's
 * host must be that site or under it, over http(s), any port. `null` (sandboxed frames, `file:`, redirects) and other
 * schemes are never the site.
 *
 * The public suffix list is not consulted, so a collector on the apex of a two-label suffix (`example.co.uk`) would
 * also answer `*.co.uk`; those pages still get no cookie, as the browser, which does know the list, withholds the
 * SameSite=Lax cookie from cross-site requests. Workspaces have no list of their site origins yet; when they do, it
 * belongs here.
 *
 * @example isSameSiteOrigin("https://www.example.com", "collect.example.com") // true
 * @example isSameSiteOrigin("null", "collect.example.com") // false
 */
export function isSameSiteOrigin(origin: string, host: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return false;
  const from = url.hostname.toLowerCase();
  const self = host.toLowerCase();
  if (from === self) return true;
  const labels = self.split(".");
  const site = !IP_HOST.test(self) && labels.length >= 3 ? labels.slice(1).join(".") : self;
  return from === site || from.endsWith(`.${site}`);
}

/** The Origin to echo, or null to leave the CORS headers out (the browser then keeps the answer from the page). */
const allowedOrigin = (origin: string, host: string) => (isSameSiteOrigin(origin, host) ? origin : null);

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
    "SDK's `id`, else a new UUID. CORS with credentials for pages of this host's site only (the origin's host is this " +
    "host, its parent domain or under it); a request from another origin, `null` included, is refused. " +
    "`replace=1` puts the SDK's `id` in the cookie whatever it held (a new UUID if `id` is not a well-formed id); " +
    "`forget=1` deletes the cookie.",
  parameters: [
    query("id", "The SDK's anonymous id, adopted when the cookie has none (8–64 of `A-Za-z0-9_-`)."),
    query("domain", "The site's registrable domain, to widen the cookie to it when this host is under it."),
    query(
      "replace",
      "`1`: the SDK's `id` replaces the cookie's (the SDK's `reset()`; its stored id is the authority).",
    ),
    query("forget", "`1`: delete the cookie and answer 204 (consent withdrawn)."),
  ],
  responses: {
    200: jsonResponse(z.object({ anonymousId: z.string() }), "The anonymous id, now in the cookie."),
    204: { description: "`forget=1`: the cookie is deleted." },
    ...errorResponses({ 403: "The request's Origin is not a page of this host's site." }),
  },
});
idCookieRoutes.openAPIRegistry.registerPath({
  ...preflightRouteDoc("/v1/id", "Browser SDK"),
  description:
    "Allowed for pages of this host's site only: their `Origin` is echoed. Other origins get no CORS headers.",
});

idCookieRoutes.use(
  "/v1/id",
  cors({
    origin: (origin, c) => allowedOrigin(origin, new URL(c.req.url).hostname),
    credentials: true,
    allowMethods: ["GET"],
  }),
);

idCookieRoutes.openapi(idRoute, (c) => {
  const url = new URL(c.req.url);
  const origin = c.req.header("origin");
  // Browsers leave Origin out of same-origin GETs; a present one must be of this site, before any cookie is set.
  if (origin !== undefined && !isSameSiteOrigin(origin, url.hostname)) {
    throw new HttpError(403, "forbidden", `Origin ${JSON.stringify(origin.slice(0, 200))} is not a page of this site`);
  }
  const domain = c.req.query("domain")?.replace(/^\./, "").toLowerCase();
  const host = url.hostname;
  const options = {
    path: "/",
    sameSite: "Lax" as const,
    httpOnly: true,
    secure: url.protocol === "https:",
    domain: domain && (host === domain || host.endsWith(`.${domain}`)) ? domain : undefined,
  };
  c.header("Cache-Control", "no-store");
  if (c.req.query("forget") === "1") {
    deleteCookie(c, ID_COOKIE, options);
    return c.body(null, 204);
  }
  // After reset() the cookie still holds the previous person's id: it must never win (DESIGN §4, shared device).
  const fromCookie = c.req.query("replace") === "1" ? undefined : getCookie(c, ID_COOKIE);
  const fromClient = c.req.query("id");
  const id = [fromCookie, fromClient].find((v) => v && VALID_ID.test(v)) ?? crypto.randomUUID();
  setCookie(c, ID_COOKIE, id, { ...options, maxAge: ONE_YEAR });
  return c.json({ anonymousId: id }, 200);
});
