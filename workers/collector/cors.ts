/** CORS for the ingestion endpoints: any site may send events, with credentials (the server-set id cookie). */
import { cors } from "hono/cors";

/**
 * Answers preflights and adds CORS headers to every answer, errors included, so browsers can read why a call
 * failed. Credentials are only allowed with an explicit origin, so the request's own is echoed.
 */
export const ingestCors = cors({
  origin: (origin) => origin || "*",
  credentials: true,
  allowMethods: ["POST", "OPTIONS"],
  // Left empty, the headers a preflight asks for are allowed: clients add their own (RudderStack's browser SDK an
  // `AnonymousId` on every request, Jitsu an `X-Write-Key`), and a fixed list blocked all of such a client's events.
  // The write key is public by design, so no header here guards anything.
  allowHeaders: [],
  // The SDK backs off by Retry-After on 429/503; cross-origin pages can only read it when exposed.
  exposeHeaders: ["Retry-After"],
  maxAge: 86400,
});
