/**
 * Sources and their write keys, managed with the workspace's secret key:
 * `POST /v1/sources`, `GET /v1/sources`, `POST /v1/sources/:id/keys` (rotate in), `DELETE /v1/sources/:id/keys` (revoke).
 */
import { Hono } from "hono";
import { createSource, createWriteKey } from "../../d1/provision";
import { revokeWriteKeys } from "../../d1/queries/api-keys";
import { findSource, listSourcesWithWriteKeys, type SourceSummary } from "../../d1/queries/sources";
import { forgetCachedKeys } from "../shared/api-keys";
import type { AppEnv } from "../shared/app-env";
import { notFound } from "../shared/errors";
import { readJsonObject, requiredName } from "./json-body";
import { requireSecretKey } from "./secret-key-auth";

/** A source as the admin API shows it. */
interface SourceView {
  id: string;
  name: string;
  created_at: string;
}

/** A write key as listings show it: never the key, only enough to tell keys apart. */
interface KeyView {
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();
const sourceView = (s: SourceSummary): SourceView => ({ id: s.id, name: s.name, created_at: iso(s.createdAt) });

export const sourceRoutes = new Hono<AppEnv>()
  /** Adds a source; its write key is in this answer only. */
  .post("/v1/sources", requireSecretKey, async (c) => {
    const name = requiredName(await readJsonObject(c), "name");
    const created = await createSource(c.env.DB, c.var.workspaceId, name);
    return c.json({ source: sourceView(created.source), write_key: created.writeKey }, 201);
  })
  /** Every source of the workspace with its write keys' prefixes, oldest first. */
  .get("/v1/sources", requireSecretKey, async (c) => {
    const { sources, writeKeys } = await listSourcesWithWriteKeys(c.env.DB, c.var.workspaceId);
    const keysBySource = new Map<string | null, KeyView[]>();
    for (const k of writeKeys) {
      const list = keysBySource.get(k.sourceId) ?? [];
      list.push({
        prefix: k.prefix,
        created_at: iso(k.createdAt),
        revoked_at: k.revokedAt === null ? null : iso(k.revokedAt),
      });
      keysBySource.set(k.sourceId, list);
    }
    const data = sources.map((s) => ({ ...sourceView(s), write_keys: keysBySource.get(s.id) ?? [] }));
    return c.json({ data });
  })
  /** Issues another write key for a source, so a key can be rotated without downtime (add, deploy, revoke). */
  .post("/v1/sources/:id/keys", requireSecretKey, async (c) => {
    const source = await ownSource(c.env.DB, c.var.workspaceId, c.req.param("id"));
    const writeKey = await createWriteKey(c.env.DB, c.var.workspaceId, source.id);
    return c.json({ source, write_key: writeKey }, 201);
  })
  /**
   * Revokes every live write key of a source. Other isolates may accept a revoked key for up to the key cache's
   * lifetime (30 s, see api-keys.ts); this isolate forgets at once.
   */
  .delete("/v1/sources/:id/keys", requireSecretKey, async (c) => {
    const source = await ownSource(c.env.DB, c.var.workspaceId, c.req.param("id"));
    const revoked = await revokeWriteKeys(c.env.DB, c.var.workspaceId, source.id, Date.now());
    forgetCachedKeys();
    return c.json({ source, revoked });
  });

/** The workspace's own source, or 404: another workspace's source id is indistinguishable from an unknown one. */
async function ownSource(db: D1Database, workspaceId: string, id: string): Promise<SourceView> {
  const row = await findSource(db, workspaceId, id);
  if (!row) throw notFound(`No source ${id} in this workspace`);
  return sourceView(row);
}
