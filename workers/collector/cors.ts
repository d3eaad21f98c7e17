/** CORS for the ingestion endpoints: any site may send events, with credentials (the server-set id cookie). */
import type { Context, MiddlewareHandler } from "hono";

const ALLOWED_HEADERS = "Content-Type, Authorization, Content-Encoding";

function setCorsHeaders(headers: Headers, origin: string | undefined): void {
  // Credentials are only allowed with an explicit origin, so the request's own is echoed.
  headers.set("Access-Control-Allow-Origin", origin ?? "*");
  if (origin) headers.set("Access-Control-Allow-Credentials", "true");
  // The SDK backs off by Retry-After on 429/503; cross-origin pages can only read it when exposed.
  headers.set("Access-Control-Expose-Headers", "Retry-After");
  headers.append("Vary", "Origin");
}

/** Adds CORS headers to every answer, errors included, so browsers can read why a call failed. */
export const ingestCors: MiddlewareHandler = async (c, next) => {
  await next();
  setCorsHeaders(c.res.headers, c.req.header("origin"));
};

/** Answers the preflight a browser sends before a JSON or gzipped POST. */
export function ingestPreflight(c: Context): Response {
  const headers = new Headers({
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": c.req.header("access-control-request-headers") || ALLOWED_HEADERS,
    "Access-Control-Max-Age": "86400",
  });
  setCorsHeaders(headers, c.req.header("origin"));
  return new Response(null, { status: 204, headers });
}
