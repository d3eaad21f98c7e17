/** `POST /v1/merges/:id/undo` (DESIGN §12): split a merge out again. Secret key; the orchestration is in `identity/`. */
import { createRoute } from "@hono/zod-openapi";
import { MergeIdParams, MergeUndone } from "@tessera/protocol";
import { undoMerge } from "../identity/merge-undo";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse, SECRET_KEY } from "../shared/route-docs";
import { requireSecretKey } from "./secret-key-auth";

export const mergeUndoRoutes = openApiRoutes().openapi(
  createRoute({
    method: "post",
    path: "/v1/merges/{id}/undo",
    tags: ["Operations"],
    summary: "Undo a merge",
    description:
      "Splits merge `id` (from `GET /v1/profiles/{ref}/merges`) out again: the merged-away profile is live again with " +
      "the identifiers and events that arrived on it (and on the profiles merged into it before), its traits " +
      "recomputed from its own events; the survivor keeps everything else, including what arrived on it after the " +
      "merge. Both re-evaluate their audiences, and the changes reach destinations as usual. The journal entry gets " +
      "`undone_at`. Works when the survivor has merged on since. Undos and erases run one at a time in a workspace: " +
      "one sent while another runs waits up to 5 s for it. A second undo is a 409 (after finishing any cleanup an " +
      "interrupted first call left), unless it is the first sent again with its `Idempotency-Key`. A later message " +
      "that links the two profiles again merges them again, as a new journal entry.",
    security: SECRET_KEY,
    middleware: [requireSecretKey],
    request: { params: MergeIdParams },
    responses: {
      200: jsonResponse(MergeUndone, "The merge is undone."),
      ...errorResponses({
        401: BAD_SECRET_KEY,
        404: "No merge with this id in the workspace (another workspace's merge is unknown too).",
        409:
          "Already undone, a profile it joined was erased, the merge is still being folded, or another undo or erase " +
          "in the workspace ran longer than this one waits for it (the last two: try again, `Retry-After`).",
      }),
    },
  }),
  async (c) => c.json(await undoMerge(c.env, c.var.workspaceId, c.req.valid("param").id), 200),
);
