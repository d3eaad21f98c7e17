import { createRoute } from "@hono/zod-openapi";
import { DevSeed, DevSeeded } from "@tessera/protocol";
import { createMiddleware } from "hono/factory";
import { createWorkspace } from "../../d1/provision";
import type { AppEnv } from "../shared/app-env";
import { notFound } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import {
  ADMIN_TOKEN,
  BAD_ADMIN_TOKEN,
  DEVELOPMENT_TAG,
  errorResponses,
  jsonResponse,
  NO_ADMIN_TOKEN,
} from "../shared/route-docs";
import { BODY_TOO_LARGE, jsonBody } from "./json-body";
import { requireAdminToken } from "./secret-key-auth";

const developmentOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (c.env.ENVIRONMENT !== "development") throw notFound(`No route for POST ${c.req.path}`);
  await next();
});

/**
 * `POST /dev/seed` in local dev: creates the dev workspace with the keys `npm run dev` prints (DESIGN §9), through
 * the same `createWorkspace` as `POST /v1/workspaces`. Idempotent, so every start of `npm run dev` calls it.
 * Anywhere but `ENVIRONMENT=development` it does not exist; there it still takes the ADMIN_TOKEN.
 *
 * @example
 * curl -X POST -H "Authorization: Bearer admin_dev" -d '{"workspace_id":"dev","write_key":"wk_dev","secret_key":"sk_dev"}' \
 *   http://localhost:8787/dev/seed
 */
export const devSeedRoutes = openApiRoutes().openapi(
  createRoute({
    method: "post",
    path: "/dev/seed",
    tags: [DEVELOPMENT_TAG],
    summary: "Seed the local dev workspace",
    description:
      "Local development only (`ENVIRONMENT=development`; 404 anywhere else): creates the dev workspace with the " +
      "keys `npm run dev` prints. Idempotent.",
    security: ADMIN_TOKEN,
    middleware: [developmentOnly, requireAdminToken, jsonBody],
    request: { body: { required: true, content: { "application/json": { schema: DevSeed } } } },
    responses: {
      200: jsonResponse(DevSeeded, "The dev workspace exists."),
      ...errorResponses({
        413: BODY_TOO_LARGE,
        400: "The body is not a JSON object with `workspace_id`, `write_key` and `secret_key`.",
        401: BAD_ADMIN_TOKEN,
        403: NO_ADMIN_TOKEN,
        404: "Not a development deployment.",
      }),
    },
  }),
  async (c) => {
    const { workspace_id: id, write_key: writeKey, secret_key: secretKey } = c.req.valid("json");
    const { workspace, source } = await createWorkspace(c.env.DB, {
      id,
      name: "Local development",
      sourceId: `src_${id}`,
      sourceName: "Local website",
      writeKey,
      secretKey,
    });
    return c.json({ workspace_id: workspace.id, source_id: source.id }, 200);
  },
);
