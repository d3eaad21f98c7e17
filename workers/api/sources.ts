/**
 * Sources and their write keys, managed with the workspace's secret key:
 * `POST /v1/sources`, `GET /v1/sources`, `POST /v1/sources/:id/keys` (rotate in), `DELETE /v1/sources/:id/keys` (revoke).
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  EmptyBody,
  type Source,
  SourceCreate,
  SourceList,
  SourceWriteKey,
  type WriteKeySummary,
  WriteKeysRevoked,
} from "@tessera/protocol";
import { createSource, createWriteKey } from "../../d1/provision";
import { revokeKeys } from "../../d1/queries/api-keys";
import { findSource, listSourcesWithWriteKeys, type SourceSummary } from "../../d1/queries/sources";
import { forgetCachedKeys } from "../shared/api-keys";
import { notFound, unauthenticated } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse, SECRET_KEY } from "../shared/route-docs";
import { answerResendsWith, SHOWN_ONCE } from "./idempotency";
import { BODY_TOO_LARGE, jsonBody, optionalJsonBody } from "./json-body";
import { issuerOf, REVOKED_MEANWHILE, requireSecretKey } from "./secret-key-auth";

const iso = (ms: number) => new Date(ms).toISOString();
const sourceView = (s: SourceSummary): Source => ({ id: s.id, name: s.name, created_at: iso(s.createdAt) });

const SourceParams = z.object({
  id: z
    .string()
    .meta({ param: { name: "id", in: "path" }, description: "The source's id.", example: "src_01jq8m4v0c5z2e7k9r3t" }),
});
const RevokeQuery = z.object({
  all: z
    .enum(["true", "false"], { error: '"all" must be true or false' })
    .optional()
    .meta({ param: { name: "all", in: "query" }, description: "Also revoke the newest key." }),
});
const UNKNOWN_SOURCE = "No source with this id in the workspace (another workspace's source is unknown too).";

export const sourceRoutes = openApiRoutes()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/sources",
      tags: ["Admin"],
      summary: "Add a source",
      description: "Adds a source with a fresh write key, which is in this answer only.",
      security: SECRET_KEY,
      middleware: [requireSecretKey, jsonBody],
      request: { body: { required: true, content: { "application/json": { schema: SourceCreate } } } },
      responses: {
        201: jsonResponse(SourceWriteKey, "Created."),
        ...errorResponses({
          413: BODY_TOO_LARGE,
          400: "The body is not a JSON object with a valid `name`.",
          401: BAD_SECRET_KEY,
          409: "Sent again with the `Idempotency-Key` of a call that created a source: it names that source.",
        }),
      },
    }),
    async (c) => {
      const created = await createSource(c.env.DB, await issuerOf(c), c.req.valid("json").name);
      if (created === null) throw unauthenticated(REVOKED_MEANWHILE);
      const { id } = created.source;
      answerResendsWith(
        c,
        `This Idempotency-Key's call already created source ${id}; its write key was shown once: issue another with ` +
          `POST /v1/sources/${id}/keys`,
      );
      return c.json({ source: sourceView(created.source), write_key: created.writeKey }, 201, SHOWN_ONCE);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/sources",
      tags: ["Admin"],
      summary: "List sources",
      description: "Every source of the workspace with its write keys' prefixes, oldest first.",
      security: SECRET_KEY,
      middleware: [requireSecretKey],
      responses: { 200: jsonResponse(SourceList, "The sources."), ...errorResponses({ 401: BAD_SECRET_KEY }) },
    }),
    async (c) => {
      const { sources, writeKeys } = await listSourcesWithWriteKeys(c.env.DB, c.var.workspaceId);
      const keysBySource = new Map<string | null, WriteKeySummary[]>();
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
      return c.json({ data }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/sources/{id}/keys",
      tags: ["Admin"],
      summary: "Issue another write key",
      description: "A new write key for the source, so a key can be rotated without downtime (add, deploy, revoke).",
      security: SECRET_KEY,
      middleware: [requireSecretKey, optionalJsonBody],
      request: {
        params: SourceParams,
        body: { required: false, content: { "application/json": { schema: EmptyBody } } },
      },
      responses: {
        201: jsonResponse(SourceWriteKey, "Created; the new key is in this answer only."),
        ...errorResponses({
          413: BODY_TOO_LARGE,
          400: "The body is not `{}` (or left out).",
          401: BAD_SECRET_KEY,
          404: UNKNOWN_SOURCE,
        }),
      },
    }),
    async (c) => {
      const source = await ownSource(c.env.DB, c.var.workspaceId, c.req.valid("param").id);
      const writeKey = await createWriteKey(c.env.DB, await issuerOf(c), source.id);
      if (writeKey === null) throw unauthenticated(REVOKED_MEANWHILE);
      return c.json({ source, write_key: writeKey }, 201, SHOWN_ONCE);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/sources/{id}/keys",
      tags: ["Admin"],
      summary: "Revoke the source's old write keys",
      description:
        "Rotation's last step: revokes every live write key of the source except the newest, so add a key, deploy " +
        "it, then call this. `?all=true` revokes the newest too (a leaked key). Every isolate stops accepting a " +
        "revoked key within a second (`KEY_CACHE_MS`); this one at once.",
      security: SECRET_KEY,
      middleware: [requireSecretKey],
      request: { params: SourceParams, query: RevokeQuery },
      responses: {
        200: jsonResponse(WriteKeysRevoked, "Revoked."),
        ...errorResponses({ 400: "`all` is not `true` or `false`.", 401: BAD_SECRET_KEY, 404: UNKNOWN_SOURCE }),
      },
    }),
    async (c) => {
      const source = await ownSource(c.env.DB, c.var.workspaceId, c.req.valid("param").id);
      const all = c.req.valid("query").all === "true";
      const revoked = await revokeKeys(
        c.env.DB,
        { workspaceId: c.var.workspaceId, kind: "write", sourceId: source.id, keep: all ? undefined : "newest" },
        Date.now(),
      );
      forgetCachedKeys();
      return c.json({ source, revoked }, 200);
    },
  );

/** The workspace's own source, or 404: another workspace's source id is indistinguishable from an unknown one. */
async function ownSource(db: D1Database, workspaceId: string, id: string): Promise<Source> {
  const row = await findSource(db, workspaceId, id);
  if (!row) throw notFound(`No source ${id} in this workspace`);
  return sourceView(row);
}
