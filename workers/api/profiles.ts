/**
 * The profile read API (DESIGN §5), secret key only: `GET /v1/profiles/:ref`, `/events`, `/merges`, and
 * `DELETE /v1/profiles/:ref` (GDPR). `:ref` is a profile id or a URL-encoded `type:value`.
 */
import type { Profile, ProfileEventsPage } from "@tessera/protocol";
import { type Context, Hono } from "hono";
import { identityStoreFor } from "../identity/cached-identity-store";
import { followRedirects } from "../profile/follow-redirects";
import { profileStub } from "../profile/profile-stub";
import type { AppEnv } from "../shared/app-env";
import { notFound, validationError } from "../shared/errors";
import { parseEventQuery } from "./event-query";
import { eraseProfile } from "./gdpr-delete";
import { resolveProfileRef } from "./profile-lookup";
import { parseProfileRef } from "./profile-ref";
import { requireSecretKey } from "./secret-key-auth";

export const profileRoutes = new Hono<AppEnv>()
  .get("/v1/profiles/:ref", requireSecretKey, async (c) => {
    const id = await liveProfileId(c);
    const { result } = await followRedirects(id, (to) => profileStub(c.env.PROFILE, to).getProfile());
    if (result.status !== "ok") throw notFound(`Profile ${id} has no data`);
    return c.json<Profile>(result.profile);
  })
  .get("/v1/profiles/:ref/events", requireSecretKey, async (c) => {
    // The query is checked first: a bad request should not cost a D1 read and a Durable Object wake-up.
    const parsed = parseEventQuery(c.req.query());
    if (!parsed.ok) throw validationError(parsed.reason);
    const id = await liveProfileId(c);
    const { result } = await followRedirects(id, (to) => profileStub(c.env.PROFILE, to).listEvents(parsed.query));
    if (result.status === "invalid_cursor") throw validationError("cursor is not one this profile's timeline issued");
    if (result.status !== "ok") throw notFound(`Profile ${id} has no data`);
    return c.json<ProfileEventsPage>(result.page);
  })
  .get("/v1/profiles/:ref/merges", requireSecretKey, async (c) => {
    const id = await liveProfileId(c);
    const store = identityStoreFor(c.env);
    // `dropped_links` is the other half of the explanation: links the rules refused (the shared-device case).
    const [data, dropped] = await Promise.all([
      store.mergesInto(c.var.workspaceId, id),
      store.droppedLinks(c.var.workspaceId, id),
    ]);
    return c.json({ data, dropped_links: dropped });
  })
  .delete("/v1/profiles/:ref", requireSecretKey, async (c) => {
    const id = await liveProfileId(c);
    const erased = await eraseProfile(c.env, identityStoreFor(c.env), c.var.workspaceId, id);
    // 202: this deployment's data is gone now; destinations delete when the sync queue delivers the request.
    return c.json(
      { status: "accepted", profile_ids: erased.profileIds, suppressed_identifiers: erased.identifiers.length },
      202,
    );
  });

/** The request's `:ref`, parsed (400 when malformed) and resolved in the caller's workspace (404 when unknown). */
async function liveProfileId(c: Context<AppEnv>): Promise<string> {
  const parsed = parseProfileRef(c.req.param("ref") ?? "");
  if (!parsed.ok) throw validationError(parsed.reason);
  return resolveProfileRef(identityStoreFor(c.env), c.var.workspaceId, parsed.ref);
}
