import { env } from "cloudflare:workers";
import { createWorkspace } from "../../d1/provision";

/** A fresh workspace with one write key and one secret key, for tests that need real credentials. */
export async function seedWorkspace(
  name = "test",
): Promise<{ workspaceId: string; writeKey: string; secretKey: string }> {
  const { workspace, writeKey, secretKey } = await createWorkspace(env.DB, { name });
  return { workspaceId: workspace.id, writeKey, secretKey };
}

/** `Authorization` header values for the two auth styles clients use. */
export const basicAuth = (key: string) => `Basic ${btoa(`${key}:`)}`;
export const bearer = (key: string) => `Bearer ${key}`;
