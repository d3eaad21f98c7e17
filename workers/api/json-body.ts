/** Reading small admin request bodies as JSON objects, for the route's body schema to check. */
import { createMiddleware } from "hono/factory";
import { readBodyBytes } from "../shared/body-bytes";
import { validationError } from "../shared/errors";

/** Admin bodies are tiny; anything larger is a mistake, not a workspace name. */
export const MAX_BODY_BYTES = 16 * 1024;
/** The 413 of every route reading its body with {@link jsonBody}, for its `errorResponses`. */
export const BODY_TOO_LARGE = `The body is larger than ${MAX_BODY_BYTES} bytes.`;

/**
 * Route middleware in front of a `createRoute` body schema: the body must be a JSON object, whatever its
 * Content-Type says (`curl -d` labels it form-urlencoded), or the answer is a 400 saying what is wrong with it
 * (413 past 16 KB). The route's validator reads only bodies labelled JSON, so the request is relabelled once its
 * text is known to be one; the fields are then the schema's business.
 *
 * @example createRoute({ method: "post", path: "/v1/sources", middleware: [requireSecretKey, jsonBody], request: { body } })
 */
export const jsonBody = jsonObjectBody("refused");

/**
 * {@link jsonBody} for a route whose body may be left out (`POST /v1/secret-keys`): no body reads as `{}`, and one
 * that is sent is still checked by the route's schema, so a field it does not take is refused, not ignored.
 */
export const optionalJsonBody = jsonObjectBody("{}");

function jsonObjectBody(empty: "refused" | "{}") {
  return createMiddleware(async (c, next) => {
    // Too large is 413 `payload_too_large`, as every other body past its limit, not a 400 about its fields.
    const bytes = await readBodyBytes(c.req.raw, MAX_BODY_BYTES);
    let text = new TextDecoder().decode(bytes);
    if (text.trim() === "") {
      if (empty === "refused") throw validationError("Body is empty: send a JSON object");
      text = "{}";
    }
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
}
