/**
 * The admin API of audiences and computed traits (DESIGN §6). Both resources have the same seven routes — create,
 * list, read, change, delete, members, preview — and differ only in their grammar, their references and what a
 * preview counts, so both are built here from a {@link DefinitionResource} (`audiences.ts`, `computed-traits.ts`).
 *
 * Every change that alters what profiles evaluate (create, a new definition, delete) is checked against the
 * workspace's definitions at one `definitions_version` and lands only if that version still holds (see
 * `guardedWrite` in `d1/queries/definitions.ts`); then this isolate forgets its cached definitions and a backfill
 * re-evaluates every live profile.
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  AudienceMembersPage,
  AudiencePreview,
  MAX_WORKSPACE_DEFINITION_BYTES,
  MAX_WORKSPACE_DEFINITIONS,
  MembersQuery,
} from "@tessera/protocol";
import {
  type DefinitionKind,
  type DefinitionLabels,
  type DefinitionRef,
  definitionExists,
  deleteDefinition,
  findDefinition,
  insertDefinition,
  listDefinitions,
  replaceDefinition,
  updateDefinitionLabels,
} from "../../d1/queries/definitions";
import { listMembers } from "../../d1/queries/members";
import { countLiveProfiles } from "../../d1/queries/profiles";
import { type PreviewDefinition, previewDefinition } from "../audiences/preview";
import type { DefinitionContext } from "../audiences/validate-definition";
import { conflict, notFound, validationError } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse, SECRET_KEY } from "../shared/route-docs";
import {
  changeOf,
  checkRoom,
  readSaved,
  rebuild,
  referrersOf,
  type SavedDefinitions,
  writeChecked,
} from "./definition-changes";
import { type DefinitionView, viewOf } from "./definition-view";
import { BODY_TOO_LARGE, jsonBody } from "./json-body";
import { memberAfter, memberCursor } from "./member-cursor";
import { requireSecretKey } from "./secret-key-auth";

/** One resource of definitions: its path, its schemas, and what is particular about its definitions. */
export interface DefinitionResource<D> {
  kind: DefinitionKind;
  /** The collection: `/v1/audiences`. */
  path: string;
  /** Singular and lowercase, for messages and docs: `audience`. */
  noun: string;
  /** A valid key, for the documentation. */
  exampleKey: string;
  schemas: {
    view: z.ZodType<DefinitionView<D>>;
    list: z.ZodType<{ data: DefinitionView<D>[] }>;
    create: z.ZodType<DefinitionLabels & { key: string; definition: D }>;
    update: z.ZodType<DefinitionLabels & { definition?: D }>;
    preview: z.ZodType<{ definition: D }>;
  };
  /**
   * Why `definition` (grammatically valid already) cannot be saved next to the workspace's other definitions —
   * an unknown reference, a cycle — as a 400 message naming its JSON path; undefined when it can.
   */
  referenceProblem(definition: D, context: DefinitionContext): string | undefined;
  /** What each profile evaluates for a preview. */
  previewOf(definition: D): PreviewDefinition;
  /** Runs once a definition was created under `key`, right after it is saved. */
  created?(env: Env, workspaceId: string, key: string): Promise<void>;
}

/**
 * The routes of one definitions resource.
 *
 * @example export const audienceRoutes = definitionRoutes({ kind: "audience", path: "/v1/audiences", … });
 */
export function definitionRoutes<D>(resource: DefinitionResource<D>) {
  const { kind, path, noun, schemas } = resource;
  const Noun = noun[0].toUpperCase() + noun.slice(1);
  const aNoun = `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;
  const KeyParams = z.object({
    key: z.string().meta({
      param: { name: "key", in: "path" },
      description: `The ${noun}'s key.`,
      example: resource.exampleKey,
    }),
  });
  const UNKNOWN = `No ${noun} with this key in the workspace (another workspace's ${noun} is unknown too).`;
  const route = { tags: ["Audiences"], security: SECRET_KEY };
  const refOf = (workspaceId: string, key: string): DefinitionRef => ({ workspaceId, kind, key });
  const missing = (key: string) => notFound(`No ${noun} "${key}" in this workspace`);

  /** The definition as the API shows it now; 404 when it is gone. */
  async function currentView(db: D1Database, ref: DefinitionRef): Promise<DefinitionView<D>> {
    const row = await findDefinition(db, ref);
    if (!row) throw missing(ref.key);
    return viewOf<D>(row);
  }

  /** A reference problem of `definition` for `key` (undefined for a preview), answered as 400. */
  function checkReferences(definition: D, saved: SavedDefinitions, key?: string): void {
    const problem = resource.referenceProblem(definition, { ...saved.context, key });
    if (problem) throw validationError(problem);
  }

  return openApiRoutes()
    .openapi(
      createRoute({
        ...route,
        method: "post",
        path,
        summary: `Create ${aNoun}`,
        description:
          `Saves the ${noun} and starts evaluating every existing profile (a backfill: \`status\` shows its ` +
          "progress); new events are evaluated from now on.",
        middleware: [requireSecretKey, jsonBody],
        request: { body: { required: true, content: { "application/json": { schema: schemas.create } } } },
        responses: {
          201: jsonResponse(schemas.view, "Created."),
          ...errorResponses({
            413: BODY_TOO_LARGE,
            400: "The body or its definition is invalid: `message` names the JSON path of the first bad node.",
            401: BAD_SECRET_KEY,
            409:
              `The workspace already has ${aNoun} with this key, or ${MAX_WORKSPACE_DEFINITIONS} audiences and ` +
              `computed traits, or they would take more than ${MAX_WORKSPACE_DEFINITION_BYTES} bytes of JSON together.`,
          }),
        },
      }),
      async (c) => {
        const body = c.req.valid("json");
        const ref = refOf(c.var.workspaceId, body.key);
        const created = await writeChecked(c.env.DB, ref.workspaceId, async (saved) => {
          if (saved.has(kind, body.key)) throw conflict(`${Noun} "${body.key}" already exists`);
          checkReferences(body.definition, saved, body.key);
          const definition = JSON.stringify(body.definition);
          checkRoom(saved, ref, definition);
          return insertDefinition(c.env.DB, {
            ...changeOf(ref, saved),
            buildTotal: await countLiveProfiles(c.env.DB, ref.workspaceId),
            name: body.name,
            description: body.description,
            definition,
          });
        });
        await resource.created?.(c.env, ref.workspaceId, ref.key);
        await rebuild(c.env, ref.workspaceId, created.buildVersion, { kind, key: ref.key });
        return c.json(viewOf<D>(created.saved), 201);
      },
    )
    .openapi(
      createRoute({
        ...route,
        method: "get",
        path,
        summary: `List ${noun}s`,
        description: `Every ${noun} of the workspace in key order, each with its current size.`,
        middleware: [requireSecretKey],
        responses: { 200: jsonResponse(schemas.list, `The ${noun}s.`), ...errorResponses({ 401: BAD_SECRET_KEY }) },
      }),
      async (c) => {
        const rows = await listDefinitions(c.env.DB, c.var.workspaceId, kind);
        return c.json({ data: rows.map((row) => viewOf<D>(row)) }, 200);
      },
    )
    .openapi(
      createRoute({
        ...route,
        method: "post",
        path: `${path}/preview`,
        summary: `Preview ${aNoun}`,
        description:
          `How many profiles the definition would hold now, and up to 10 of them, without saving it. Every live ` +
          "profile evaluates it, so this takes a while on a large workspace.",
        middleware: [requireSecretKey, jsonBody],
        request: { body: { required: true, content: { "application/json": { schema: schemas.preview } } } },
        responses: {
          200: jsonResponse(AudiencePreview, "What the definition would hold."),
          ...errorResponses({
            413: BODY_TOO_LARGE,
            400: "The definition is invalid: `message` names the JSON path of the first bad node.",
            401: BAD_SECRET_KEY,
          }),
        },
      }),
      async (c) => {
        const { definition } = c.req.valid("json");
        checkReferences(definition, await readSaved(c.env.DB, c.var.workspaceId));
        return c.json(await previewDefinition(c.env, c.var.workspaceId, resource.previewOf(definition)), 200);
      },
    )
    .openapi(
      createRoute({
        ...route,
        method: "get",
        path: `${path}/{key}`,
        summary: `Read ${aNoun}`,
        description: `The ${noun} with its current size and the progress of its latest backfill.`,
        middleware: [requireSecretKey],
        request: { params: KeyParams },
        responses: {
          200: jsonResponse(schemas.view, `The ${noun}.`),
          ...errorResponses({ 401: BAD_SECRET_KEY, 404: UNKNOWN }),
        },
      }),
      async (c) => c.json(await currentView(c.env.DB, refOf(c.var.workspaceId, c.req.valid("param").key)), 200),
    )
    .openapi(
      createRoute({
        ...route,
        method: "put",
        path: `${path}/{key}`,
        summary: `Change ${aNoun}`,
        description:
          "Fields left out keep their value. Every change bumps `version`. A different `definition` also rebuilds: " +
          "every existing profile is evaluated again. A name, a description or the same definition sent back leaves " +
          "membership as it is, so nothing is rebuilt.",
        middleware: [requireSecretKey, jsonBody],
        request: {
          params: KeyParams,
          body: { required: true, content: { "application/json": { schema: schemas.update } } },
        },
        responses: {
          200: jsonResponse(schemas.view, `The ${noun} as changed.`),
          ...errorResponses({
            413: BODY_TOO_LARGE,
            400: "The body or its definition is invalid: `message` names the JSON path of the first bad node.",
            401: BAD_SECRET_KEY,
            404: UNKNOWN,
            409:
              `The changed definitions would take more than ${MAX_WORKSPACE_DEFINITION_BYTES} bytes of JSON together, ` +
              "or they kept changing while this change was checked (send it again).",
          }),
        },
      }),
      async (c) => {
        const body = c.req.valid("json");
        const ref = refOf(c.var.workspaceId, c.req.valid("param").key);
        const labels: DefinitionLabels = { name: body.name, description: body.description };
        const { definition } = body;
        // Each answer is the definition as this request's own write left it: read back afterwards, it could already
        // be another request's change of the same key.
        if (definition === undefined) {
          const relabelled = await updateDefinitionLabels(c.env.DB, ref, labels, Date.now());
          if (!relabelled) throw missing(ref.key);
          return c.json(viewOf<D>(relabelled), 200);
        }
        const current = await findDefinition(c.env.DB, ref);
        if (!current) throw missing(ref.key);
        if (sameJson(definition, JSON.parse(current.definition))) {
          // Sent back as stored: labels only, unless another change of the definition landed since it was read;
          // then this request stores its definition after all, as it asked.
          const relabelled = await updateDefinitionLabels(c.env.DB, ref, labels, Date.now(), current.definition);
          if (relabelled) return c.json(viewOf<D>(relabelled), 200);
        }
        const changed = await writeChecked(c.env.DB, ref.workspaceId, async (saved) => {
          if (!saved.has(kind, ref.key)) throw missing(ref.key);
          checkReferences(definition, saved, ref.key);
          const json = JSON.stringify(definition);
          checkRoom(saved, ref, json);
          return replaceDefinition(c.env.DB, {
            ...changeOf(ref, saved),
            buildTotal: await countLiveProfiles(c.env.DB, ref.workspaceId),
            ...labels,
            definition: json,
          });
        });
        await rebuild(c.env, ref.workspaceId, changed.buildVersion, { kind, key: ref.key });
        return c.json(viewOf<D>(changed.saved), 200);
      },
    )
    .openapi(
      createRoute({
        ...route,
        method: "delete",
        path: `${path}/{key}`,
        summary: `Delete ${aNoun}`,
        description:
          kind === "audience"
            ? "Every member exits (destinations are told to remove them). An audience another audience refers to " +
              "cannot be deleted: change or delete that one first."
            : "Profiles lose the value. A computed trait an audience refers to cannot be deleted: change or delete " +
              "that audience first.",
        middleware: [requireSecretKey],
        request: { params: KeyParams },
        responses: {
          204: { description: "Deleted." },
          ...errorResponses({
            401: BAD_SECRET_KEY,
            404: UNKNOWN,
            409: `An audience refers to this ${noun}; \`message\` names it.`,
          }),
        },
      }),
      async (c) => {
        const ref = refOf(c.var.workspaceId, c.req.valid("param").key);
        const { buildVersion } = await writeChecked(c.env.DB, ref.workspaceId, async (saved) => {
          if (!saved.has(kind, ref.key)) throw missing(ref.key);
          const [user] = referrersOf(saved, kind, ref.key);
          if (user !== undefined) {
            throw conflict(`Audience "${user}" refers to ${noun} "${ref.key}": change or delete "${user}" first`);
          }
          return deleteDefinition(c.env.DB, changeOf(ref, saved));
        });
        await rebuild(c.env, ref.workspaceId, buildVersion, null);
        return c.body(null, 204);
      },
    )
    .openapi(
      createRoute({
        ...route,
        method: "get",
        path: `${path}/{key}/members`,
        summary: `List ${aNoun}'s members`,
        description:
          (kind === "audience" ? "The audience's members" : "The profiles that have a value") +
          ", in profile-id order, a page at a time: pass `cursor.next` as `cursor` for the next page.",
        middleware: [requireSecretKey],
        request: { params: KeyParams, query: MembersQuery },
        responses: {
          200: jsonResponse(AudienceMembersPage, "A page of members."),
          ...errorResponses({
            400: "`limit` is not 1–1000, or `cursor` is not one this listing issued.",
            401: BAD_SECRET_KEY,
            404: UNKNOWN,
          }),
        },
      }),
      async (c) => {
        const { limit, cursor } = c.req.valid("query");
        const after = cursor === undefined ? undefined : memberAfter(cursor);
        const ref = refOf(c.var.workspaceId, c.req.valid("param").key);
        if (!(await definitionExists(c.env.DB, ref))) throw missing(ref.key);
        const rows = await listMembers(c.env.DB, ref.workspaceId, kind, ref.key, { after, limit });
        const page = rows.slice(0, limit);
        const hasMore = rows.length > limit;
        return c.json(
          {
            data: page.map((m) => ({ profile_id: m.profileId, since: new Date(m.since).toISOString() })),
            cursor: { has_more: hasMore, next: hasMore ? memberCursor(page[page.length - 1].profileId) : null },
          },
          200,
        );
      },
    );
}

/** Whether two JSON values are equal, whatever the order of their objects' keys (a definition sent back as read). */
function sameJson(a: unknown, b: unknown): boolean {
  const sorted = (_: string, value: unknown) =>
    typeof value === "object" && value !== null && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : value;
  return JSON.stringify(a, sorted) === JSON.stringify(b, sorted);
}
