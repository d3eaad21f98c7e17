/** `POST /v1/workspaces`: how a real deployment bootstraps, with the operator's ADMIN_TOKEN. */
import { Hono } from "hono";
import { storeKey } from "../shared/api-keys";
import type { AppEnv } from "../shared/app-env";
import { newId, newSecret } from "../shared/ids";
import { readJsonObject, requiredName } from "./json-body";
import { requireAdminToken } from "./secret-key-auth";
import { prepareSource } from "./source-records";

/** The name of the source every new workspace starts with, so its write key has a home. */
const FIRST_SOURCE_NAME = "default";

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
  const db = c.env.DB;
  const now = Date.now();
  const workspaceId = newId("ws");
  const secretKey = newSecret("sk");
  const first = await prepareSource(db, workspaceId, FIRST_SOURCE_NAME, now);
  await db.batch([
    db.prepare("INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)").bind(workspaceId, name, now),
    ...first.statements,
    await storeKey(db, secretKey, { workspaceId, kind: "secret" }),
  ]);
  return c.json(
    {
      workspace: { id: workspaceId, name, created_at: new Date(now).toISOString() },
      write_key: first.writeKey,
      secret_key: secretKey,
      source: first.source,
    },
    201,
  );
});
