import { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "hono";
import type { AppEnv } from "./app-env";
import { validationHook } from "./validation-hook";

/**
 * A sub-app whose routes are declared with `createRoute` and added with `app.openapi(route, handler)`: the route's
 * zod schemas validate the request (failures answer 400 through {@link validationHook}) and the same declaration is
 * the route's entry in `/openapi.json`, so no route exists undocumented.
 *
 * @example
 * export const audienceRoutes = openApiRoutes().openapi(
 *   createRoute({ method: "get", path: "/v1/audiences/{key}", middleware: [requireSecretKey], request: { params }, responses }),
 *   async (c) => c.json(await readAudience(c.env, c.req.valid("param").key), 200),
 * );
 */
export function openApiRoutes<E extends Env = AppEnv>(): OpenAPIHono<E> {
  return new OpenAPIHono<E>({ defaultHook: validationHook });
}
