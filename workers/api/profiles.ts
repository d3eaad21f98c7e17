/**
 * The profile read API (DESIGN §5), secret key only: `GET /v1/profiles/:ref`, `/events`, `/merges`, and
 * `DELETE /v1/profiles/:ref` (GDPR). `:ref` is a profile id or a URL-encoded `type:value`.
 */
import { createRoute } from "@hono/zod-openapi";
import { Profile, ProfileErased, ProfileEventsPage, ProfileEventsQuery, ProfileMerges } from "@tessera/protocol";
import { listMergeJournal } from "../../d1/queries/merge-undo";
import { currentDefinitionsVersion } from "../audiences/definitions-cache";
import { startDeletion } from "../erase/deletion-job";
import { identityStoreFor } from "../identity/cached-identity-store";
import { mergeRecord } from "../identity/merge-undo";
import { followRedirects } from "../profile/follow-redirects";
import { profileStub } from "../profile/profile-stub";
import { notFound, validationError } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse, SECRET_KEY } from "../shared/route-docs";
import { erasedAnswer } from "./deletions";
import { lookUpProfileRef, resolveProfileRef } from "./profile-lookup";
import { type ProfileRef, ProfileRefParams } from "./profile-ref";
import { requireSecretKey } from "./secret-key-auth";

const BAD_REF = "`ref` is neither a profile id nor a valid `type:value`.";
const NO_PROFILE = "No profile matches `ref` in this workspace (another workspace's profile is unknown too).";
/** What every profile route shares: who may call it, and its path parameter. */
const profileRoute = {
  tags: ["Profiles"],
  security: SECRET_KEY,
  middleware: [requireSecretKey],
};

export const profileRoutes = openApiRoutes()
  .openapi(
    createRoute({
      ...profileRoute,
      method: "get",
      path: "/v1/profiles/{ref}",
      summary: "Read a profile",
      description:
        "One unified customer. A merged-away id answers with the profile it was merged into. Its `audiences` and " +
        "`computed` are as of the read: evaluated first with definitions a build has not brought to it yet, or at a " +
        "window boundary that passed since its last evaluation.",
      request: { params: ProfileRefParams },
      responses: {
        200: jsonResponse(Profile, "The profile."),
        ...errorResponses({ 400: BAD_REF, 401: BAD_SECRET_KEY, 404: NO_PROFILE }),
      },
    }),
    async (c) => {
      const workspaceId = c.var.workspaceId;
      const id = await liveProfileId(c.env, workspaceId, c.req.valid("param"));
      // The profile answers for the definitions as they are now, not as its last event or backfill left them.
      const at = { workspaceId, definitionsVersion: await currentDefinitionsVersion(c.env.DB, workspaceId) };
      const { result } = await followRedirects(id, (to) => profileStub(c.env.PROFILE, to).getProfile(at));
      if (result.status !== "ok") throw notFound(`Profile ${id} has no data`);
      return c.json(result.profile, 200);
    },
  )
  .openapi(
    createRoute({
      ...profileRoute,
      method: "get",
      path: "/v1/profiles/{ref}/events",
      summary: "List a profile's events",
      description: "Newest first, a page at a time: pass `cursor.next` as `cursor` for the next page.",
      // The query is checked before the ref: a bad request should not cost a D1 read and a Durable Object wake-up.
      request: { query: ProfileEventsQuery, params: ProfileRefParams },
      responses: {
        200: jsonResponse(ProfileEventsPage, "A page of events."),
        ...errorResponses({
          400: `${BAD_REF} Or a query parameter is invalid, or \`cursor\` is not one this profile's timeline issued.`,
          401: BAD_SECRET_KEY,
          404: NO_PROFILE,
        }),
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const id = await liveProfileId(c.env, c.var.workspaceId, c.req.valid("param"));
      const { result } = await followRedirects(id, (to) => profileStub(c.env.PROFILE, to).listEvents(query));
      if (result.status === "invalid_cursor") throw validationError("cursor is not one this profile's timeline issued");
      if (result.status !== "ok") throw notFound(`Profile ${id} has no data`);
      return c.json(result.page, 200);
    },
  )
  .openapi(
    createRoute({
      ...profileRoute,
      method: "get",
      path: "/v1/profiles/{ref}/merges",
      summary: "Explain a profile's merges",
      description:
        "The merge journal entries that formed this profile (undone ones too, with `undone_at`), and the links the " +
        "identity rules refused " +
        "(`dropped_links`: the shared-device case).",
      request: { params: ProfileRefParams },
      responses: {
        200: jsonResponse(ProfileMerges, "The merges and the refused links."),
        ...errorResponses({ 400: BAD_REF, 401: BAD_SECRET_KEY, 404: NO_PROFILE }),
      },
    }),
    async (c) => {
      const id = await liveProfileId(c.env, c.var.workspaceId, c.req.valid("param"));
      const store = identityStoreFor(c.env);
      // `dropped_links` is the other half of the explanation: links the rules refused (the shared-device case).
      // The journal as listed here keeps undone entries (with `undone_at`), so an undo stays explained.
      const [journal, dropped] = await Promise.all([
        listMergeJournal(c.env.DB, c.var.workspaceId, id),
        store.droppedLinks(c.var.workspaceId, id),
      ]);
      return c.json({ data: journal.map(mergeRecord), dropped_links: dropped }, 200);
    },
  )
  .openapi(
    createRoute({
      ...profileRoute,
      method: "delete",
      path: "/v1/profiles/{ref}",
      summary: "Delete a profile (GDPR)",
      description:
        "Removes the profile, the profiles merged into it, their identifiers, events and memberships, suppresses " +
        "the identifiers so later events carrying them are dropped, and tells every destination to delete (a " +
        "disabled one once it is enabled again: the job waits for each vendor). The request is recorded first as a " +
        "deletion (`deletion_id`, `GET /v1/deletions/{id}`) whose steps are retried until done.",
      request: { params: ProfileRefParams },
      responses: {
        202: jsonResponse(ProfileErased, "Recorded and carried out; destinations delete when the sync queue delivers."),
        ...errorResponses({ 400: BAD_REF, 401: BAD_SECRET_KEY, 404: NO_PROFILE }),
      },
    }),
    async (c) => {
      const ref = c.req.valid("param");
      const { live, identifier } = await lookUpProfileRef(identityStoreFor(c.env), c.env.DB, c.var.workspaceId, ref);
      // The job records what the ref named, not the profile it finds now: it erases under the repair lock, and a merge
      // undo that ran first can have split the person the ref names out of `live` (it would erase the other one).
      const named = { profileId: ref.kind === "id" ? ref.profileId : live, identifier };
      // 202 even when a step failed: the deletion is recorded, and the cron finishes it.
      return c.json(erasedAnswer(await startDeletion(c.env, c.var.workspaceId, named)), 202);
    },
  );

/** The live profile a parsed ref names in the caller's workspace (404 when unknown). */
function liveProfileId(env: Env, workspaceId: string, ref: ProfileRef): Promise<string> {
  return resolveProfileRef(identityStoreFor(env), env.DB, workspaceId, ref);
}
