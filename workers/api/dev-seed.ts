import { Hono } from "hono";
import { createWorkspace } from "../../d1/provision";
import type { AppEnv } from "../shared/app-env";
import { notFound } from "../shared/errors";
import { readJsonObject, requiredName } from "./json-body";
import { requireAdminToken } from "./secret-key-auth";

/**
 * `POST /dev/seed` in local dev: creates the dev workspace with the keys `npm run dev` prints (DESIGN §9), through
 * the same `createWorkspace` as `POST /v1/workspaces`. Idempotent, so every start of `npm run dev` calls it.
 * Anywhere but `ENVIRONMENT=development` it does not exist; there it still takes the ADMIN_TOKEN.
 *
 * @example
 * curl -X POST -H "Authorization: Bearer admin_dev" -d '{"workspace_id":"dev","write_key":"wk_dev","secret_key":"sk_dev"}' \
 *   http://localhost:8787/dev/seed
 */
export const devSeedRoutes = new Hono<AppEnv>().post(
  "/dev/seed",
  async (c, next) => {
    if (c.env.ENVIRONMENT !== "development") throw notFound(`No route for POST ${c.req.path}`);
    await next();
  },
  requireAdminToken,
  async (c) => {
    const body = await readJsonObject(c);
    const id = requiredName(body, "workspace_id");
    const { workspace, source } = await createWorkspace(c.env.DB, {
      id,
      name: "Local development",
      sourceId: `src_${id}`,
      sourceName: "Local website",
      writeKey: requiredName(body, "write_key"),
      secretKey: requiredName(body, "secret_key"),
    });
    return c.json({ workspace_id: workspace.id, source_id: source.id });
  },
);
