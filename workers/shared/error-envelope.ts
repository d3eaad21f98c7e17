import type { ErrorBody } from "@tessera/protocol";
import type { Context, NotFoundHandler } from "hono";
import { TrieRouter } from "hono/router/trie-router";
import type { RouterRoute } from "hono/types";
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

/**
 * `app.notFound`, over the app's `routes`: a request no route answers, in the same envelope as everything else. A
 * path routed for other methods answers 405 with `Allow` naming them (`GET /v1/merges/{id}/undo` takes POST), so a
 * wrong method is not mistaken for a wrong path; any other, 404. DESIGN §5 has no code for 405: it carries
 * `validation_error`, the code of the request's own mistakes (as the 415 of an unsupported encoding does).
 * The routes are read at the first such request, when every route is mounted.
 *
 * @example app.notFound(noRouteEnvelope(app.routes))
 */
export function noRouteEnvelope(routes: readonly RouterRoute[]): NotFoundHandler {
  let methodsOf: TrieRouter<string> | undefined;
  return (c) => {
    methodsOf ??= routerOfMethods(routes);
    const [matches] = methodsOf.match("ALL", c.req.path);
    const methods = new Set(matches.map(([method]) => method));
    // Hono answers HEAD with the GET route.
    if (methods.has("GET")) methods.add("HEAD");
    // The method is routed here and still nothing answered (a handler's own `c.notFound()`): the path is unknown.
    if (methods.size === 0 || methods.has(c.req.method)) {
      const body: ErrorBody = { error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}` } };
      return c.json(body, 404);
    }
    const allow = [...methods].sort().join(", ");
    const body: ErrorBody = {
      error: {
        code: "validation_error",
        message: `${c.req.method} is not allowed on ${c.req.path}: it takes ${allow}`,
      },
    };
    return c.json(body, 405, { Allow: allow });
  };
}

/** Each route's method, found by its path whatever the request's method. Middleware (`ALL`: CORS, …) answers no path. */
function routerOfMethods(routes: readonly RouterRoute[]): TrieRouter<string> {
  const router = new TrieRouter<string>();
  for (const { method, path } of routes) if (method !== "ALL") router.add("ALL", path, method);
  return router;
}
