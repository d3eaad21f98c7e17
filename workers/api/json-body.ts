/** Reading small admin request bodies as JSON objects, for the route's body schema to check. */
import { createMiddleware } from "hono/factory";
import { readBodyBytes } from "../shared/body-bytes";
import { validationError } from "../shared/errors";

/** Admin bodies are tiny; anything larger is a mistake, not a workspace name. */
const MAX_BODY_BYTES = 16 * 1024;

/**
 * Route middleware in front of a `createRoute` body schema: the body must be a JSON object, whatever its
 * Content-Type says (`curl -d` labels it form-urlencoded), or the answer is a 400 saying what is wrong with it.
 * The route's validator reads only bodies labelled JSON, so the request is relabelled once its text is known to be
 * one; the fields are then the schema's business.
 *
 * @example createRoute({ method: "post", path: "/v1/sources", middleware: [requireSecretKey, jsonBody], request: { body } })
 */
export const jsonBody = createMiddleware(async (c, next) => {
  const bytes = await readBodyBytes(c.req.raw, MAX_BODY_BYTES, () =>
    validationError(`Body is larger than ${MAX_BODY_BYTES} bytes`),
  );
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") throw validationError("Body is empty: send a JSON object");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw validationError("Body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw validationError("Body must be a JSON object");
  }
  const headers = new Headers(c.req.raw.headers);
  headers.set("content-type", "application/json");
  c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers, body: text });
  await next();
});
