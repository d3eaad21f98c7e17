/** `POST /v1/workspaces`: how a real deployment bootstraps, with the operator's ADMIN_TOKEN. */
import { createRoute } from "@hono/zod-openapi";
import { WorkspaceCreate, WorkspaceCreated } from "@tessera/protocol";
import { createWorkspace } from "../../d1/provision";
import { openApiRoutes } from "../shared/openapi-routes";
import { ADMIN_TOKEN, BAD_ADMIN_TOKEN, errorResponses, jsonResponse, NO_ADMIN_TOKEN } from "../shared/route-docs";
import { SHOWN_ONCE } from "./idempotency";
import { BODY_TOO_LARGE, jsonBody } from "./json-body";
import { requireAdminToken } from "./secret-key-auth";

/**
 * Creates a workspace with a first source, its write key and the workspace's secret key, in one D1 batch.
 * The keys are in this answer only: D1 keeps their SHA-256.
 *
 * @example
 * curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"name":"Acme"}' https://…/v1/workspaces
 * // 201 {"workspace":{"id":"ws_…","name":"Acme","created_at":"…"},"write_key":"wk_…","secret_key":"sk_…","source":{…}}
 */
export const workspaceRoutes = openApiRoutes().openapi(
  createRoute({
    method: "post",
    path: "/v1/workspaces",
    tags: ["Admin"],
    summary: "Create a workspace",
    description: "A workspace with a first source, its write key and the workspace's secret key. Keys are shown once.",
    security: ADMIN_TOKEN,
    middleware: [requireAdminToken, jsonBody],
    request: { body: { required: true, content: { "application/json": { schema: WorkspaceCreate } } } },
    responses: {
      201: jsonResponse(WorkspaceCreated, "Created."),
      ...errorResponses({
        413: BODY_TOO_LARGE,
        400: "The body is not a JSON object with a valid `name`.",
        401: BAD_ADMIN_TOKEN,
        403: NO_ADMIN_TOKEN,
      }),
    },
  }),
  async (c) => {
    const { name } = c.req.valid("json");
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
      SHOWN_ONCE,
    );
  },
);
