/**
 * `/v1/destinations` (DESIGN §7): where a workspace's audiences are synced, managed with its secret key — create,
 * list, read, change, delete — and, from `destination-sync-routes.ts`, each destination's sync log, dead letters and
 * reconciliation. Every change makes this isolate forget the workspace's destinations, so the sync consumer routes
 * by the new ones at once here (within `DESTINATIONS_CACHE_MS` elsewhere).
 */
import { createRoute } from "@hono/zod-openapi";
import { Destination, DestinationCreate, DestinationList, DestinationUpdate } from "@tessera/protocol";
import { newId, newSecret } from "../../d1/ids";
import { wakeDeletionsWaitingOn } from "../../d1/queries/deletions";
import {
  type DestinationChanges,
  type DestinationRow,
  deleteDestination,
  insertDestination,
  listDestinations,
  updateDestination,
} from "../../d1/queries/destinations";
import { notFound } from "../shared/errors";
import { keepAlive } from "../shared/keep-alive";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse } from "../shared/route-docs";
import { destinationStub, forgetDestinations } from "../sync/consumer";
import { reconcileDestination } from "./destination-reconcile";
import {
  BAD_BODY,
  checkAudiences,
  checkConfig,
  DESTINATION_ROUTE,
  IdParams,
  mergeConfig,
  ownDestination,
  pluginOf,
  UNKNOWN,
  workspaceAudiences,
} from "./destination-request";
import { destinationSyncRoutes } from "./destination-sync-routes";
import { destinationView } from "./destination-view";
import { BODY_TOO_LARGE, jsonBody } from "./json-body";
import { requireSecretKey } from "./secret-key-auth";

const originOf = (url: string) => new URL(url).origin;

export const destinationRoutes = openApiRoutes()
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "post",
      path: "/v1/destinations",
      summary: "Add a destination",
      description:
        "Starts syncing the members of `audiences` to a MAP or a webhook: their current members are sent at once " +
        "(when `enabled`), then every entry and exit. `config` is checked by the type; its secrets read back " +
        "masked. Give the vendor `webhook_url` for engagement (opens, clicks, unsubscribes).",
      middleware: [requireSecretKey, jsonBody],
      request: { body: { required: true, content: { "application/json": { schema: DestinationCreate } } } },
      responses: {
        201: jsonResponse(Destination, "Created."),
        ...errorResponses({ 413: BODY_TOO_LARGE, 400: BAD_BODY, 401: BAD_SECRET_KEY }),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const plugin = pluginOf(body.type);
      checkConfig(plugin, body.config);
      await checkAudiences(c.env.DB, c.var.workspaceId, body.audiences);
      const now = Date.now();
      const row = await insertDestination(c.env.DB, {
        id: newId("dst"),
        workspaceId: c.var.workspaceId,
        type: body.type,
        name: body.name,
        config: JSON.stringify(body.config),
        audiences: JSON.stringify(body.audiences),
        traits: JSON.stringify(body.traits ?? []),
        enabled: body.enabled ?? true,
        inboundSecret: newSecret("whsec"),
        createdAt: now,
        updatedAt: now,
      });
      forgetDestinations(c.var.workspaceId);
      // The audiences' members now, not at the cron's next minute: the same repair `POST …/reconcile` starts.
      if (row.enabled && body.audiences.length > 0) fillSoon(c.env, row);
      return c.json(await destinationView(c.env, row, originOf(c.req.url), new Set(body.audiences)), 201);
    },
  )
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "get",
      path: "/v1/destinations",
      summary: "List destinations",
      description: "Every destination of the workspace, oldest first, each with its sync status.",
      middleware: [requireSecretKey],
      responses: {
        200: jsonResponse(DestinationList, "The destinations."),
        ...errorResponses({ 401: BAD_SECRET_KEY }),
      },
    }),
    async (c) => {
      const [rows, audiences] = await Promise.all([
        listDestinations(c.env.DB, c.var.workspaceId),
        workspaceAudiences(c.env.DB, c.var.workspaceId),
      ]);
      const origin = originOf(c.req.url);
      return c.json(
        { data: await Promise.all(rows.map((row) => destinationView(c.env, row, origin, audiences))) },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "get",
      path: "/v1/destinations/{id}",
      summary: "Read a destination",
      description: "The destination, its secrets masked, with its sync status.",
      middleware: [requireSecretKey],
      request: { params: IdParams },
      responses: {
        200: jsonResponse(Destination, "The destination."),
        ...errorResponses({ 401: BAD_SECRET_KEY, 404: UNKNOWN }),
      },
    }),
    async (c) => {
      const [row, audiences] = await Promise.all([
        ownDestination(c.env.DB, c.var.workspaceId, c.req.valid("param").id),
        workspaceAudiences(c.env.DB, c.var.workspaceId),
      ]);
      return c.json(await destinationView(c.env, row, originOf(c.req.url), audiences), 200);
    },
  )
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "put",
      path: "/v1/destinations/{id}",
      summary: "Change a destination",
      description:
        "Fields left out keep their value; `type` cannot change. `config` is merged key by key into the stored " +
        "config: a key given replaces its value, a key left out keeps it, a key given as `null` is removed (a 400 " +
        "naming it when the type requires it), and a secret sent back masked (`…abcd`, as read) keeps the stored " +
        "secret; the merged config is checked whole. A change of `config` resumes sending at once when the vendor " +
        "had refused the old credentials (`status.paused_until`). Disabling keeps the queued " +
        "operations, and nothing new is routed to it; enabling it again sends them at once, with its audiences' " +
        "current members, as does giving it another audience (that audience's members). Traits added to `traits` " +
        "reach the members already sent within minutes (a bounded step each minute), not only with their next change.",
      middleware: [requireSecretKey, jsonBody],
      request: {
        params: IdParams,
        body: { required: true, content: { "application/json": { schema: DestinationUpdate } } },
      },
      responses: {
        200: jsonResponse(Destination, "The destination as changed."),
        ...errorResponses({ 413: BODY_TOO_LARGE, 400: BAD_BODY, 401: BAD_SECRET_KEY, 404: UNKNOWN }),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const { workspaceId } = c.var;
      const current = await ownDestination(c.env.DB, workspaceId, c.req.valid("param").id);
      const changes: DestinationChanges = {};
      if (body.name !== undefined) changes.name = body.name;
      if (body.config !== undefined) {
        const plugin = pluginOf(current.type);
        const config = mergeConfig(plugin, body.config, JSON.parse(current.config));
        checkConfig(plugin, config);
        changes.config = JSON.stringify(config);
      }
      const newCredentials = changes.config !== undefined && changes.config !== current.config;
      if (body.audiences !== undefined) {
        await checkAudiences(c.env.DB, workspaceId, body.audiences);
        changes.audiences = JSON.stringify(body.audiences);
      }
      if (body.traits !== undefined) changes.traits = JSON.stringify(body.traits);
      if (body.enabled !== undefined) changes.enabled = body.enabled;
      let row = current;
      if (Object.keys(changes).length > 0) {
        const updated = await updateDestination(c.env.DB, workspaceId, current.id, {
          ...changes,
          updatedAt: Date.now(),
        });
        if (!updated) throw notFound(`No destination ${current.id} in this workspace`);
        row = updated;
        forgetDestinations(workspaceId);
        const destination = destinationStub(c.env, row.id);
        // New credentials: a pause the vendor's refusal of the old ones started ends, and the next drain runs now.
        if (newCredentials && row.enabled) await destination.endAuthPause(row.id);
        // Enabled again: what waited in its object while it was disabled goes out now.
        else if (body.enabled === true) await destination.wake(row.id);
        // GDPR erasures waiting for its delete look again within a minute, not at their long wait's end.
        if (row.enabled && !current.enabled) await wakeDeletionsWaitingOn(c.env.DB, row.id, Date.now());
        // The audiences whose members it may never have been sent: every one when it is enabled again (nothing was
        // routed to it while disabled), else those it was just given. They are sent now, as to a new destination.
        const keys = JSON.parse(row.audiences) as string[];
        const before = new Set(JSON.parse(current.audiences) as string[]);
        const unsent = current.enabled ? keys.filter((key) => !before.has(key)) : keys;
        if (row.enabled && unsent.length > 0) fillSoon(c.env, row);
        // Traits selected now that its listed members were sent without: the cron's ticks restate them. The object's
        // tick finds them gained by itself too, so a failed call delays nothing and the saved change stands.
        const had = new Set(JSON.parse(current.traits) as string[]);
        const gained = (JSON.parse(row.traits) as string[]).filter((key) => !had.has(key));
        if (gained.length > 0)
          await destination.restateTraits(row.id, gained).then(
            () => undefined,
            (err) => console.warn(`destination ${row.id}: restating ${gained.join(", ")} left to its next tick`, err),
          );
      }
      const audiences = await workspaceAudiences(c.env.DB, workspaceId);
      return c.json(await destinationView(c.env, row, originOf(c.req.url), audiences), 200);
    },
  )
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "delete",
      path: "/v1/destinations/{id}",
      summary: "Delete a destination",
      description:
        "Stops syncing at once: nothing queued for it is sent any more. Its sync log and dead letters go with it, " +
        "as does what it kept of the members it synced (emails, traits); what the vendor already has stays there.",
      middleware: [requireSecretKey],
      request: { params: IdParams },
      responses: { 204: { description: "Deleted." }, ...errorResponses({ 401: BAD_SECRET_KEY, 404: UNKNOWN }) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { workspaceId } = c.var;
      await ownDestination(c.env.DB, workspaceId, id);
      // Its object drops what it holds of people first, queued or not, and takes nothing more: a later GDPR erase no
      // longer reaches it. Only then the row: gone first, a failed forget would leave a retry answering 404 and the
      // members' emails and traits in the object for ever.
      await destinationStub(c.env, id).forget(id);
      if (!(await deleteDestination(c.env.DB, workspaceId, id))) {
        throw notFound(`No destination ${id} in this workspace`);
      }
      forgetDestinations(workspaceId);
      // GDPR erasures that waited for its delete count it done at their next look, within a minute.
      await wakeDeletionsWaitingOn(c.env.DB, id, Date.now());
      return c.body(null, 204);
    },
  )
  .route("/", destinationSyncRoutes);

/**
 * Sends a destination its audiences' current members in the background of this request (the first page of the
 * reconciliation the cron would run within a minute; the cron carries on from there). Its failure is only logged:
 * the cron repairs the same drift.
 */
function fillSoon(env: Env, row: DestinationRow): void {
  keepAlive(
    reconcileDestination(env, row).catch((err) =>
      console.warn(`destination ${row.id}: its first fill waits for the cron's reconciliation`, err),
    ),
  );
}
