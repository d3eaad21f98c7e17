import type { ErrorBody } from "@tessera/protocol";
import type { Context } from "hono";
import { HttpError } from "./errors";

/** `app.onError`: every failure leaves the Worker as `{"error":{"code","message"}}`. */
export function errorEnvelope(err: Error, c: Context): Response {
  if (err instanceof HttpError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    return c.json(body, err.status, err.headers);
  }
  console.error("unhandled error", err);
  const body: ErrorBody = { error: { code: "internal_error", message: "Internal error" } };
  return c.json(body, 500);
}

/** Unknown routes answer in the same envelope as everything else. */
export function notFoundEnvelope(c: Context): Response {
  const body: ErrorBody = { error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}` } };
  return c.json(body, 404);
}
