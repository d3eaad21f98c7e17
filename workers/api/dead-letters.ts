/**
 * Ingest dead letters (DESIGN §12): `GET /v1/dead-letters` lists accepted work that failed every retry, and
 * `POST /v1/dead-letters/replay` runs it again through the ingest pipeline. A workspace's secret key acts on its own
 * dead letters; the deployment's admin token on every workspace's (or one, with `workspace_id`).
 */
import { createRoute } from "@hono/zod-openapi";
import {
  type IngestDeadLetter,
  IngestDeadLetterPage,
  IngestDeadLettersQuery,
  IngestDeadLettersReplay,
  IngestDeadLettersReplayed,
  type JsonObject,
  MAX_REPLAY_PER_CALL,
} from "@tessera/protocol";
import { createMiddleware } from "hono/factory";
import { timingSafeEqual } from "hono/utils/buffer";
import { type DeadLetterScope, type IngestDeadLetterRow, listIngestDeadLetters } from "../../d1/queries/dead-letters";
import { messageIdsOf, replayDeadLetters } from "../ingest/dead-letters";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import type { AppEnv } from "../shared/app-env";
import { credentialFrom } from "../shared/basic-auth";
import { validationError } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { ADMIN_TOKEN, errorResponses, jsonResponse, SECRET_KEY } from "../shared/route-docs";
import { BODY_TOO_LARGE, optionalJsonBody } from "./json-body";
import { ingestDeadLetterBefore, ingestDeadLetterCursor } from "./log-cursor";
import { requireSecretKey } from "./secret-key-auth";

type OperatorEnv = { Bindings: Env; Variables: AppEnv["Variables"] & { admin: boolean } };

/**
 * The admin token (compared in constant time) acts for every workspace; anything else must be a secret key.
 * Both set `admin`, which {@link scopeOf} reads.
 */
export const secretKeyOrAdminToken = createMiddleware<OperatorEnv>(async (c, next) => {
  const given = credentialFrom(c.req.header("authorization"));
  const admin = c.env.ADMIN_TOKEN;
  if (given && admin && (await timingSafeEqual(given, admin))) {
    c.set("admin", true);
    return next();
  }
  c.set("admin", false);
  return requireSecretKey(c as never, next);
});

/** Whose dead letters a call acts on; `workspace_id` is the admin token's filter, and refused with a secret key. */
function scopeOf(admin: boolean, workspaceId: string, requested: string | undefined): DeadLetterScope {
  if (admin) return { workspaceId: requested };
  if (requested !== undefined && requested !== workspaceId) {
    throw validationError("workspace_id is for the admin token: a secret key sees its own workspace only");
  }
  return { workspaceId };
}

const iso = (ms: number) => new Date(ms).toISOString();

function deadLetterView(row: IngestDeadLetterRow): IngestDeadLetter {
  const jobs = JSON.parse(row.jobs) as JsonObject[];
  return {
    id: row.id,
    workspace_id: row.workspaceId,
    message_ids: messageIdsOf(jobs),
    error: row.error,
    attempts: row.attempts,
    created_at: iso(row.createdAt),
    replayed_at: row.replayedAt === null ? null : iso(row.replayedAt),
    jobs,
  };
}

const OPERATOR_ROUTE = {
  tags: ["Operations"],
  security: [...SECRET_KEY, ...ADMIN_TOKEN],
  middleware: [secretKeyOrAdminToken],
};
const BAD_CREDENTIALS = "No credentials, an unknown or revoked key, a write key, or a wrong admin token.";

export const deadLetterRoutes = openApiRoutes<OperatorEnv>()
  .openapi(
    createRoute({
      ...OPERATOR_ROUTE,
      method: "get",
      path: "/v1/dead-letters",
      summary: "List ingest dead letters",
      description:
        "Accepted events (and merge folds) that failed every retry of the ingest queue, with the reason of the last " +
        "failure, newest first, a page at a time: pass `cursor.next` as `cursor` for the next page.",
      request: { query: IngestDeadLettersQuery },
      responses: {
        200: jsonResponse(IngestDeadLetterPage, "A page of dead letters."),
        ...errorResponses({
          400: "A query parameter is invalid, `cursor` is not one this listing issued, or a secret key sent another workspace's `workspace_id`.",
          401: BAD_CREDENTIALS,
        }),
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const scope = scopeOf(c.var.admin, c.var.workspaceId, query.workspace_id);
      const beforeId = query.cursor === undefined ? undefined : ingestDeadLetterBefore(query.cursor);
      const rows = await listIngestDeadLetters(c.env.DB, scope, { status: query.status, beforeId, limit: query.limit });
      const page = rows.slice(0, query.limit);
      const hasMore = rows.length > query.limit;
      return c.json(
        {
          data: page.map(deadLetterView),
          cursor: { has_more: hasMore, next: hasMore ? ingestDeadLetterCursor(page[page.length - 1].id) : null },
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      ...OPERATOR_ROUTE,
      // No body is `{}`, as the destinations' replay takes none.
      middleware: [secretKeyOrAdminToken, optionalJsonBody],
      method: "post",
      path: "/v1/dead-letters/replay",
      summary: "Replay ingest dead letters",
      description:
        "Runs dead letters again through the ingest pipeline (fix the cause first), oldest first: the ones in `ids`, " +
        `or (with \`{}\` or no body) the ${MAX_REPLAY_PER_CALL} pending ones tried the fewest times, so that a call ` +
        "gets past the ones that failed again in the last; call again while `remaining` is above 0. " +
        "Idempotent: each message keeps its `messageId`, which its profile stores once, so replaying a dead letter " +
        "twice (or one whose events were stored meanwhile) stores nothing twice. A dead letter that completes is " +
        "marked replayed; one that fails again stays pending with the new reason (without the work of anyone erased " +
        "meanwhile).",
      request: {
        body: { required: false, content: { "application/json": { schema: IngestDeadLettersReplay } } },
      },
      responses: {
        200: jsonResponse(IngestDeadLettersReplayed, "What was replayed, what failed again, what was skipped."),
        ...errorResponses({
          413: BODY_TOO_LARGE,
          400: "The body is not a JSON object with valid `ids`, or a secret key sent another workspace's `workspace_id`.",
          401: BAD_CREDENTIALS,
        }),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const scope = scopeOf(c.var.admin, c.var.workspaceId, body.workspace_id);
      const outcome = await replayDeadLetters(c.env.DB, ingestDepsFor(c.env), scope, {
        ids: body.ids,
        limit: MAX_REPLAY_PER_CALL,
      });
      return c.json(outcome, 200);
    },
  );
