/**
 * What the destination routes check in a request (DESIGN §7): that the destination is the workspace's own, and that a
 * body's `type`, `config` and `audiences` are ones the deployment and the workspace have. Each failure is the 400 or
 * 404 the client sees, its message naming the field.
 */
import { z } from "@hono/zod-openapi";
import type { JsonObject } from "@tessera/protocol";
import { readDefinitionSet } from "../../d1/queries/definitions";
import { type DestinationRow, findDestination } from "../../d1/queries/destinations";
import { notFound, validationError } from "../shared/errors";
import { SECRET_KEY } from "../shared/route-docs";
import type { DestinationPlugin } from "../sync/plugin";
import { DESTINATION_TYPES, pluginFor } from "../sync/registry";
import { isMasked } from "./destination-view";

/** The `{id}` path parameter of every per-destination route. */
export const IdParams = z.object({
  id: z.string().meta({
    param: { name: "id", in: "path" },
    description: "The destination's id.",
    example: "dst_01jq8m4v0c5z2e7k9r3t",
  }),
});
/** The 404 of every per-destination route. */
export const UNKNOWN = "No destination with this id in the workspace (another workspace's destination is unknown too).";
/** The 400 of the routes that take a destination body. */
export const BAD_BODY =
  "The body is invalid: an unknown field or `type`, a `config` its type refuses (`config.<field>: reason`), or an " +
  "audience key the workspace does not have.";
/** What every destination route declares: its tag and its credentials. */
export const DESTINATION_ROUTE = { tags: ["Destinations"], security: SECRET_KEY };

type Plugin = DestinationPlugin<Record<string, unknown>>;

/** The plugin of `type`, or 400 naming the types there are. */
export function pluginOf(type: string): Plugin {
  const plugin = pluginFor(type);
  if (!plugin) {
    throw validationError(`type: unknown destination type "${type}" (known: ${DESTINATION_TYPES.join(", ")})`);
  }
  return plugin;
}

/** 400 `config.<field>: reason` when the plugin refuses `config`. */
export function checkConfig(plugin: Plugin, config: Record<string, unknown>): void {
  for (const field of plugin.secretFields) {
    if (isMasked(config[field])) {
      throw validationError(`config.${field}: is masked ("…"): send the secret itself`);
    }
  }
  const problem = plugin.validateConfig(config);
  if (problem !== null) throw validationError(problem.startsWith("config") ? problem : `config.${problem}`);
}

/**
 * `changes` from a `PUT` (or an edit to test) merged key by key into the `stored` config, as Segment and RudderStack
 * settings behave: a key given replaces the stored value, a key left out keeps it, a key given as `null` is removed
 * (the merged config is then checked whole, so removing a required key is a 400 naming it), and a secret sent back
 * masked (as a read shows it) keeps the stored secret. A client can so change one setting by sending only it, or
 * by sending back the config it read.
 *
 * @example mergeConfig(klaviyo, { api_key: "pk_new" }, { api_key: "pk_old", webhook_secret: "s" }) // { api_key: "pk_new", webhook_secret: "s" }
 */
export function mergeConfig(plugin: Plugin, changes: JsonObject, stored: Record<string, unknown>): JsonObject {
  // No prototype: a `__proto__` key given is a setting like any other (unknown, so refused), not the object's parent.
  const merged: Record<string, unknown> = Object.assign(Object.create(null), stored);
  const moved = typeof changes.base_url === "string" && changes.base_url !== stored.base_url;
  for (const field of plugin.secretFields) {
    const given = changes[field];
    // A stored secret goes only to the address it was saved with: kept across a new base_url, any secret-key holder
    // could have it sent to a server of theirs (by `PUT` or `POST …/test`) and read it there.
    if (moved && Object.hasOwn(stored, field) && (given === undefined || isMasked(given))) {
      throw validationError(
        `config.${field}: send it again, not masked, with a new base_url (a stored secret is sent only where it was saved for)`,
      );
    }
  }
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete merged[key];
    else if (plugin.secretFields.includes(key) && isMasked(value) && Object.hasOwn(stored, key)) continue;
    else merged[key] = value;
  }
  return merged as JsonObject;
}

/** The keys of the workspace's audiences now. */
export async function workspaceAudiences(db: D1Database, workspaceId: string): Promise<Set<string>> {
  const set = await readDefinitionSet(db, workspaceId);
  return new Set(set?.definitions.filter((d) => d.kind === "audience").map((d) => d.key));
}

/** 400 naming the first key that is not an audience of the workspace. */
export async function checkAudiences(db: D1Database, workspaceId: string, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const known = await workspaceAudiences(db, workspaceId);
  const unknown = keys.find((key) => !known.has(key));
  if (unknown !== undefined) throw validationError(`audiences: no audience "${unknown}" in this workspace`);
}

/** The workspace's own destination, or 404: another workspace's id is indistinguishable from an unknown one. */
export async function ownDestination(db: D1Database, workspaceId: string, id: string): Promise<DestinationRow> {
  const row = await findDestination(db, workspaceId, id);
  if (!row) throw notFound(`No destination ${id} in this workspace`);
  return row;
}
