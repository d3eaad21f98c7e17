/**
 * Sources and their write keys, managed with the workspace's secret key:
 * `POST /v1/sources`, `GET /v1/sources`, `POST /v1/sources/:id/keys` (rotate in), `DELETE /v1/sources/:id/keys` (revoke).
 */
import { Hono } from "hono";
import { forgetCachedKeys } from "../shared/api-keys";
import type { AppEnv } from "../shared/app-env";
import { notFound } from "../shared/errors";
import { readJsonObject, requiredName } from "./json-body";
import { requireSecretKey } from "./secret-key-auth";
import { prepareSource, prepareWriteKey, type SourceView } from "./source-records";

/** A write key as listings show it: never the key, only enough to tell keys apart. */
interface KeyView {
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

export const sourceRoutes = new Hono<AppEnv>()
  /** Adds a source; its write key is in this answer only. */
  .post("/v1/sources", requireSecretKey, async (c) => {
    const name = requiredName(await readJsonObject(c), "name");
    const created = await prepareSource(c.env.DB, c.var.workspaceId, name);
    await c.env.DB.batch(created.statements);
    return c.json({ source: created.source, write_key: created.writeKey }, 201);
  })
  /** Every source of the workspace with its write keys' prefixes, oldest first. */
  .get("/v1/sources", requireSecretKey, async (c) => {
    const ws = c.var.workspaceId;
    const [sources, keys] = await c.env.DB.batch<Record<string, unknown>>([
      c.env.DB.prepare("SELECT id, name, created_at FROM sources WHERE workspace_id = ? ORDER BY created_at, id").bind(
        ws,
      ),
      c.env.DB.prepare(
        "SELECT source_id, prefix, created_at, revoked_at FROM api_keys WHERE workspace_id = ? AND kind = 'write' ORDER BY created_at",
      ).bind(ws),
    ]);
    const keysBySource = new Map<string, KeyView[]>();
    for (const k of keys.results as Array<{
      source_id: string;
      prefix: string;
      created_at: number;
      revoked_at: number | null;
    }>) {
      const list = keysBySource.get(k.source_id) ?? [];
      list.push({
        prefix: k.prefix,
        created_at: iso(k.created_at),
        revoked_at: k.revoked_at === null ? null : iso(k.revoked_at),
      });
      keysBySource.set(k.source_id, list);
    }
    const data = (sources.results as Array<{ id: string; name: string; created_at: number }>).map((s) => ({
      id: s.id,
      name: s.name,
      created_at: iso(s.created_at),
      write_keys: keysBySource.get(s.id) ?? [],
    }));
    return c.json({ data });
  })
  /** Issues another write key for a source, so a key can be rotated without downtime (add, deploy, revoke). */
  .post("/v1/sources/:id/keys", requireSecretKey, async (c) => {
    const source = await ownSource(c.env.DB, c.var.workspaceId, c.req.param("id"));
    const { writeKey, statement } = await prepareWriteKey(c.env.DB, c.var.workspaceId, source.id);
    await statement.run();
    return c.json({ source, write_key: writeKey }, 201);
  })
  /**
   * Revokes every live write key of a source. Other isolates may accept a revoked key for up to the key cache's
   * lifetime (30 s, see api-keys.ts); this isolate forgets at once.
   */
  .delete("/v1/sources/:id/keys", requireSecretKey, async (c) => {
    const source = await ownSource(c.env.DB, c.var.workspaceId, c.req.param("id"));
    const result = await c.env.DB.prepare(
      "UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND source_id = ? AND kind = 'write' AND revoked_at IS NULL",
    )
      .bind(Date.now(), c.var.workspaceId, source.id)
      .run();
    forgetCachedKeys();
    return c.json({ source, revoked: result.meta.changes });
  });

/** The workspace's own source, or 404: another workspace's source id is indistinguishable from an unknown one. */
async function ownSource(db: D1Database, workspaceId: string, id: string): Promise<SourceView> {
  const row = await db
    .prepare("SELECT id, name, created_at FROM sources WHERE id = ? AND workspace_id = ?")
    .bind(id, workspaceId)
    .first<{ id: string; name: string; created_at: number }>();
  if (!row) throw notFound(`No source ${id} in this workspace`);
  return { id: row.id, name: row.name, created_at: iso(row.created_at) };
}
