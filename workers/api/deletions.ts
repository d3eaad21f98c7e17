/**
 * `GET /v1/deletions/{id}` (DESIGN §12): where a GDPR erase stands, step by step. Secret key; another workspace's
 * deletion is unknown (404).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { DELETION_STEPS, Deletion, type ProfileErased } from "@tessera/protocol";
import { type DeletionRow, findDeletion, STEP_COLUMNS } from "../../d1/queries/deletions";
import { notFound } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse, SECRET_KEY } from "../shared/route-docs";
import { requireSecretKey } from "./secret-key-auth";

const DeletionIdParams = z.object({
  id: z.string().meta({
    param: { name: "id", in: "path" },
    description: "The `deletion_id` that `DELETE /v1/profiles/{ref}` answered.",
    example: "del_8x2kq4v0c5z2e7k9r3t1",
  }),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The wire view of a deletion. */
export function deletionView(row: DeletionRow): Deletion {
  const done = row.status === "done";
  return {
    id: row.id,
    status: row.status,
    profile_id: row.profileId,
    profile_ids: row.profileIds === null ? [] : (JSON.parse(row.profileIds) as string[]),
    suppressed_identifiers: row.suppressedCount ?? 0,
    steps: DELETION_STEPS.map((name) => {
      const at = row[STEP_COLUMNS[name]];
      return { name, status: at === null ? "pending" : "done", done_at: iso(at) };
    }),
    attempts: row.attempts,
    last_error: row.lastError,
    next_attempt_at: done ? null : iso(row.nextAttemptAt),
    created_at: iso(row.createdAt) as string,
    completed_at: iso(row.completedAt),
  };
}

/** The answer of `DELETE /v1/profiles/{ref}` once its deletion was recorded and run. */
export function erasedAnswer(row: DeletionRow): ProfileErased {
  const view = deletionView(row);
  return {
    status: "accepted",
    deletion_id: row.id,
    profile_ids: view.profile_ids.length > 0 ? view.profile_ids : [row.profileId],
    suppressed_identifiers: view.suppressed_identifiers,
  };
}

export const deletionRoutes = openApiRoutes().openapi(
  createRoute({
    method: "get",
    path: "/v1/deletions/{id}",
    tags: ["Operations"],
    security: SECRET_KEY,
    middleware: [requireSecretKey],
    summary: "Follow a GDPR delete",
    description:
      `The erase job \`DELETE /v1/profiles/{ref}\` recorded: each step (${DELETION_STEPS.map((s) => `\`${s}\``).join(", ")}) ` +
      "with when it was done; pending steps are retried with backoff until they are.",
    request: { params: DeletionIdParams },
    responses: {
      200: jsonResponse(Deletion, "The deletion and its steps."),
      ...errorResponses({
        401: BAD_SECRET_KEY,
        404: "No deletion with this id in the workspace (another workspace's deletion is unknown too).",
      }),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const row = await findDeletion(c.env.DB, c.var.workspaceId, id);
    if (!row) throw notFound(`No deletion ${id} in this workspace`);
    return c.json(deletionView(row), 200);
  },
);
