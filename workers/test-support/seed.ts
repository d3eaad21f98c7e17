import { env } from "cloudflare:workers";
import { storeKey } from "../shared/api-keys";
import { newId, newSecret } from "../shared/ids";

/** A fresh workspace with one write key and one secret key, for tests that need real credentials. */
export async function seedWorkspace(
  name = "test",
): Promise<{ workspaceId: string; writeKey: string; secretKey: string }> {
  const workspaceId = newId("ws");
  const sourceId = newId("src");
  const writeKey = newSecret("wk");
  const secretKey = newSecret("sk");
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare("INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)").bind(workspaceId, name, now),
    env.DB.prepare("INSERT INTO sources (id, workspace_id, name, created_at) VALUES (?, ?, ?, ?)").bind(
      sourceId,
      workspaceId,
      "default",
      now,
    ),
    await storeKey(env.DB, writeKey, { workspaceId, kind: "write", sourceId }),
    await storeKey(env.DB, secretKey, { workspaceId, kind: "secret" }),
  ]);
  return { workspaceId, writeKey, secretKey };
}

/** `Authorization` header values for the two auth styles clients use. */
export const basicAuth = (key: string) => `Basic ${btoa(`${key}:`)}`;
export const bearer = (key: string) => `Bearer ${key}`;
