/**
 * "Test connection" (DESIGN §11): `POST /v1/destinations/test` tries a config before it is saved, and
 * `POST /v1/destinations/{id}/test` a saved destination (or edits to it), each through the plugin's own
 * `testConnection` (workers/sync/plugin.ts), so the console can say "the key works" before anything syncs.
 */
import { createRoute } from "@hono/zod-openapi";
import { DestinationTestRequest, DestinationTestResult, SavedDestinationTestRequest } from "@tessera/protocol";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse } from "../shared/route-docs";
import { destinationStub } from "../sync/consumer";
import { type DestinationPlugin, fetchRefusingRedirects, type PluginContext } from "../sync/plugin";
import {
  checkConfig,
  DESTINATION_ROUTE,
  IdParams,
  mergeConfig,
  ownDestination,
  pluginOf,
  UNKNOWN,
} from "./destination-request";
import { BODY_TOO_LARGE, jsonBody, optionalJsonBody } from "./json-body";
import { requireSecretKey } from "./secret-key-auth";

/** A vendor that does not answer within this long has failed the test (the console waits on it). */
const TEST_TIMEOUT_MS = 10_000;
const BAD_CONFIG = "An unknown `type`, or a `config` the type refuses (`config.<field>: reason`).";

export const destinationTestRoutes = openApiRoutes()
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "post",
      path: "/v1/destinations/test",
      summary: "Test a destination config",
      description: "One authenticated call to the vendor with this config; nothing is saved or synced.",
      middleware: [requireSecretKey, jsonBody],
      request: { body: { required: true, content: { "application/json": { schema: DestinationTestRequest } } } },
      responses: {
        200: jsonResponse(DestinationTestResult, "The vendor's verdict."),
        ...errorResponses({ 413: BODY_TOO_LARGE, 400: BAD_CONFIG, 401: BAD_SECRET_KEY }),
      },
    }),
    async (c) => {
      const { type, config } = c.req.valid("json");
      const plugin = pluginOf(type);
      checkConfig(plugin, config);
      return c.json(await tryConnection(plugin, config), 200);
    },
  )
  .openapi(
    createRoute({
      ...DESTINATION_ROUTE,
      method: "post",
      path: "/v1/destinations/{id}/test",
      summary: "Test a destination's connection",
      description:
        "One authenticated call to the vendor with the saved config (send no body, or `{}`), or with `config` " +
        "merged into the saved one as `PUT` merges it (masked secrets keep the saved ones) to try an edit before " +
        "saving it. A success with the saved config also ends a pause that the vendor's refusal of the credentials " +
        "(401/403) started: the destination sends again at once.",
      middleware: [requireSecretKey, optionalJsonBody],
      request: {
        params: IdParams,
        body: { required: false, content: { "application/json": { schema: SavedDestinationTestRequest } } },
      },
      responses: {
        200: jsonResponse(DestinationTestResult, "The vendor's verdict."),
        ...errorResponses({ 413: BODY_TOO_LARGE, 400: BAD_CONFIG, 401: BAD_SECRET_KEY, 404: UNKNOWN }),
      },
    }),
    async (c) => {
      const row = await ownDestination(c.env.DB, c.var.workspaceId, c.req.valid("param").id);
      const plugin = pluginOf(row.type);
      const stored = JSON.parse(row.config) as Record<string, unknown>;
      const edit = c.req.valid("json").config;
      const config = edit ? mergeConfig(plugin, edit, stored) : stored;
      if (edit) checkConfig(plugin, config);
      const result = await tryConnection(plugin, config, { id: row.id, workspaceId: row.workspaceId });
      // The saved credentials work now (the vendor's side was fixed): a pause their refusal started ends.
      if (result.ok && !edit && row.enabled) await destinationStub(c.env, row.id).endAuthPause(row.id);
      return c.json(result, 200);
    },
  );

async function tryConnection(
  plugin: DestinationPlugin<Record<string, unknown>>,
  config: Record<string, unknown>,
  destination?: { id: string; workspaceId: string },
): Promise<DestinationTestResult> {
  const kept = new Map<string, string>();
  const ctx: PluginContext<Record<string, unknown>> = {
    config,
    destination,
    // As the sync engine's gate: a redirect is a wrong address to fix, not a call to follow (see `Redirected`).
    fetch: (input, init) => fetchRefusingRedirects(input, { ...init, signal: AbortSignal.timeout(TEST_TIMEOUT_MS) }),
    now: () => Date.now(),
    // A token fetched for the test is not worth keeping: the sync engine's own store fills on its first call.
    store: { get: async (key) => kept.get(key), put: async (key, value) => void kept.set(key, value) },
  };
  try {
    await plugin.testConnection(ctx);
    return { ok: true, message: `Connected: ${plugin.type} accepted the credentials.` };
  } catch (err) {
    return { ok: false, message: `Connection failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}
