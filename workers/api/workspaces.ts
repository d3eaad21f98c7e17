/** `POST /v1/workspaces`: how a real deployment bootstraps, with the operator's ADMIN_TOKEN. */
import { Hono } from "hono";
import { createWorkspace } from "../../d1/provision";
import type { AppEnv } from "../shared/app-env";
import { readJsonObject, requiredName } from "./json-body";
import { requireAdminToken } from "./secret-key-auth";

/**
 * Creates a workspace with a first source, its write key and the workspace's secret key, in one D1 batch.
 * The keys are in this answer only: D1 keeps their SHA-256.
 *
 * @example
 * curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"name":"Acme"}' https://…/v1/workspaces
 * // 201 {"workspace":{"id":"ws_…","name":"Acme","created_at":"…"},"write_key":"wk_…","secret_key":"sk_…","source":{…}}
 */
export const workspaceRoutes = new Hono<AppEnv>().post("/v1/workspaces", requireAdminToken, async (c) => {
  const name = requiredName(await readJsonObject(c), "name");
  const { workspace, source, writeKey, secretKey } = await createWorkspace(c.env.DB, { name });
  const iso = (ms: number) => new Date(ms).toISOString();
  return c.json(
    {
      workspace: { id: workspace.id, name: workspace.name, created_at: iso(workspace.createdAt) },
      write_key: writeKey,
      secret_key: secretKey,
      source: { id: source.id, name: source.name, created_at: iso(source.createdAt) },
    },
    201,
  );
});
