/**
 * What a destination's sync did and repairs (DESIGN §7): its sync log, its dead letters and their replay, and a
 * reconciliation on demand. Mounted with the other destination routes by `destinations.ts`.
 */
import { createRoute } from "@hono/zod-openapi";
import {
  DeadLetterList,
  DeadLetterQuery,
  DeadLettersReplayed,
  type JsonObject,
  ReconcileQuery,
  ReconcileStarted,
  SyncLogPage,
  SyncLogQuery,
} from "@tessera/protocol";
import { listDeadLetters, listSyncLog, markReplayed } from "../../d1/queries/sync-records";
import { identityStoreFor } from "../identity/cached-identity-store";
import { validationError } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse } from "../shared/route-docs";
import { destinationStub } from "../sync/consumer";
import type { SyncOp } from "../sync/sync-op";
import { MAX_RECONCILE_MEMBERS, reconcileDestination } from "./destination-reconcile";
import { DESTINATION_ROUTE, IdParams, ownDestination, UNKNOWN } from "./destination-request";
import { deadLetterBefore, deadLetterCursor, logBefore, logCursor } from "./log-cursor";
import { resolveProfileRef } from "./profile-lookup";
import { parseProfileRef } from "./profile-ref";
import { requireSecretKey } from "./secret-key-auth";

/** Dead letters read per round of a replay, and rounds per call: a larger backlog takes another call. */
const REPLAY_PAGE = 1000;
const REPLAY_ROUNDS = 10;
/** Operations per enqueue call to the destination's object. */
const ENQUEUE_CHUNK = 200;

const iso = (ms: number) => new Date(ms).toISOString();

/** `items` in slices of `size`. */
function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The profile ids whose log entries `?profile=<ref>` asks for: the live profile the ref names, as the profile API
 * resolves it (a merged-away id answers its survivor), and those merged into it, whose entries were logged before the
 * merge under their own ids. A `prf_…` id no profile has any more (erased) reads what was logged under it; an
 * identifier no profile has is a 404, as on `/v1/profiles/{ref}`; a ref of neither form is a 400 naming both.
 */
async function loggedProfiles(env: Env, workspaceId: string, raw: string): Promise<string[]> {
  const parsed = parseProfileRef(raw);
  if (!parsed.ok) throw validationError(parsed.reason);
  const { ref } = parsed;
  const store = identityStoreFor(env);
  if (ref.kind === "id" && (await store.liveProfile(workspaceId, ref.profileId)) === null) return [ref.profileId];
  const live = await resolveProfileRef(store, env.DB, workspaceId, ref);
  const merged = await store.mergesInto(workspaceId, live);
  return [live, ...new Set(merged.map((m) => m.from))];
}

export const destinationSyncRoutes = openApiRoutes()
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "get",
      path: "/v1/destinations/{id}/log",
      summary: "Read a destination's sync log",
      description:
        "What the sync engine did with each item (added, removed, upserted, deleted; ok, retried, failed, " +
        "skipped), newest first, a page at a time: pass `cursor.next` as `cursor` for the next page. `profile` " +
        "takes a profile id (`prf_…`) or an identifier `type:value`, as `/v1/profiles/{ref}` does: the entries of " +
        "the live profile it names and of the profiles merged into it (an id no profile has any more, erased, " +
        "reads the entries logged under it).",
      middleware: [requireSecretKey],
      request: { params: IdParams, query: SyncLogQuery },
      responses: {
        200: jsonResponse(SyncLogPage, "A page of the log."),
        ...errorResponses({
          400: "`limit` is not 1–1000, `cursor` is not one this listing issued, or `profile` is not a profile ref.",
          401: BAD_SECRET_KEY,
          404: `${UNKNOWN} Or no profile has the identifier \`profile\` names.`,
        }),
      },
    }),
    async (c) => {
      const { profile, limit, cursor } = c.req.valid("query");
      const before = cursor === undefined ? undefined : logBefore(cursor);
      const row = await ownDestination(c.env.DB, c.var.workspaceId, c.req.valid("param").id);
      const profileId = profile === undefined ? undefined : await loggedProfiles(c.env, row.workspaceId, profile);
      const rows = await listSyncLog(c.env.DB, row.id, { profileId, before, limit });
      const page = rows.slice(0, limit);
      const hasMore = rows.length > limit;
      return c.json(
        {
          data: page.map((r) => ({
            at: iso(r.at),
            profile_id: r.profileId,
            audience: r.audience,
            action: r.action,
            outcome: r.outcome,
            attempts: r.attempts,
            error: r.error,
          })),
          cursor: { has_more: hasMore, next: hasMore ? logCursor(page[page.length - 1].id) : null },
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "get",
      path: "/v1/destinations/{id}/dead-letters",
      summary: "List a destination's dead letters",
      description:
        "Operations that failed for good or ran out of retries and were not replayed yet, newest first, a page at " +
        "a time: pass `cursor.next` as `cursor` for the next page.",
      middleware: [requireSecretKey],
      request: { params: IdParams, query: DeadLetterQuery },
      responses: {
        200: jsonResponse(DeadLetterList, "A page of the dead letters."),
        ...errorResponses({
          400: "`limit` is not 1–1000, or `cursor` is not one this listing issued.",
          401: BAD_SECRET_KEY,
          404: UNKNOWN,
        }),
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const before = cursor === undefined ? undefined : deadLetterBefore(cursor);
      const row = await ownDestination(c.env.DB, c.var.workspaceId, c.req.valid("param").id);
      const rows = await listDeadLetters(c.env.DB, row.id, limit + 1, before);
      const letters = rows.slice(0, limit);
      const hasMore = rows.length > limit;
      return c.json(
        {
          data: letters.map((l) => ({
            id: l.id,
            profile_id: l.profileId,
            error: l.error,
            created_at: iso(l.createdAt),
            op: JSON.parse(l.op) as JsonObject,
          })),
          cursor: { has_more: hasMore, next: hasMore ? deadLetterCursor(letters[letters.length - 1].id) : null },
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "post",
      path: "/v1/destinations/{id}/dead-letters/replay",
      summary: "Replay a destination's dead letters",
      description:
        "Queues every dead letter's operation again (fix the cause first: a bad config, a refused field) and marks " +
        `it replayed. Up to ${REPLAY_PAGE * REPLAY_ROUNDS} per call: call again while \`replayed\` is that many. ` +
        "An operation that fails again becomes a new dead letter; one older than what the destination has synced " +
        "since (or has waiting) is marked replayed without being sent, as the newer state stands.",
      middleware: [requireSecretKey],
      request: { params: IdParams },
      responses: {
        200: jsonResponse(DeadLettersReplayed, "Queued again."),
        ...errorResponses({ 401: BAD_SECRET_KEY, 404: UNKNOWN }),
      },
    }),
    async (c) => {
      const row = await ownDestination(c.env.DB, c.var.workspaceId, c.req.valid("param").id);
      const destination = destinationStub(c.env, row.id);
      let replayed = 0;
      for (let round = 0; round < REPLAY_ROUNDS; round++) {
        const letters = await listDeadLetters(c.env.DB, row.id, REPLAY_PAGE);
        if (letters.length === 0) break;
        // Oldest first, so that of two letters for the same profile and audience the newer one is queued last.
        const ops = letters.map((l) => JSON.parse(l.op) as SyncOp).reverse();
        // One older than what the object has synced since, or than what waits, is not sent: the newer state stands.
        for (const part of chunks(ops, ENQUEUE_CHUNK)) await destination.enqueue(row.id, part, { replay: true });
        await markReplayed(
          c.env.DB,
          letters.map((l) => l.id),
          Date.now(),
        );
        replayed += letters.length;
        if (letters.length < REPLAY_PAGE) break;
      }
      return c.json({ replayed }, 200);
    },
  )
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "post",
      path: "/v1/destinations/{id}/reconcile",
      summary: "Reconcile a destination",
      description:
        "Drift repair now, in pages (the cron runs the same every minute, resuming where its last tick stopped): " +
        "each audience's intended members are compared with what the destination last synced, in both " +
        "directions. Members the vendor was never sent are queued as entries, as their profiles read now; " +
        "profiles the vendor still lists after they left (or were merged away) are queued as exits; members in " +
        "both cost nothing. A member the vendor refused for good (a dead letter) is sent again here; the cron's " +
        "ticks leave it until its profile changes or the dead letter is replayed. Up to " +
        `${MAX_RECONCILE_MEMBERS} rows are examined per call: while \`cursor.has_more\`, call again with ` +
        "`cursor=<cursor.next>`. A reconciliation started (no `cursor`) also ends a pause after the vendor " +
        "refused the credentials (`status.paused_until`): what waits is tried now, and a vendor that still " +
        "refuses pauses it again.",
      middleware: [requireSecretKey],
      request: { params: IdParams, query: ReconcileQuery },
      responses: {
        202: jsonResponse(ReconcileStarted, "Queued; the destination's object sends them at its pace."),
        ...errorResponses({
          400: "`cursor` is not one this destination's reconciliation issued.",
          401: BAD_SECRET_KEY,
          404: UNKNOWN,
        }),
      },
    }),
    async (c) => {
      const { cursor } = c.req.valid("query");
      const row = await ownDestination(c.env.DB, c.var.workspaceId, c.req.valid("param").id);
      // Asking for a reconciliation is asking to try now, whatever the vendor said last (the cron's own reconciliation
      // and the first fill of a destination are not, so this is the route's, not `reconcileDestination`'s). Only its
      // first page: the next ones carry on the same request.
      if (cursor === undefined && row.enabled) await destinationStub(c.env, row.id).endAuthPause(row.id);
      return c.json(await reconcileDestination(c.env, row, cursor), 202);
    },
  );
