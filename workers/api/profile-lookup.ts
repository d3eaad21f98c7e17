/** From a parsed ref to a live profile: the identity graph answers which profile, its Durable Object answers what. */
import type { IdentityStore } from "../identity/identity-store";
import type { Redirected } from "../profile/profile-rpc";
import { notFound } from "../shared/errors";
import { describeRef, type ProfileRef } from "./profile-ref";

/**
 * A tombstone's redirect may lag the graph for a moment mid-merge, so reads follow it; a chain this long
 * is a cycle, which is a bug rather than a merge history.
 */
const MAX_REDIRECTS = 8;

/**
 * The live profile id a ref names in this workspace, or a 404. A merged-away id answers with its survivor.
 * The graph is scoped by workspace, so another workspace's profile is exactly as unknown as a made-up one.
 */
export async function resolveProfileRef(store: IdentityStore, workspaceId: string, ref: ProfileRef): Promise<string> {
  const id =
    ref.kind === "id"
      ? await store.liveProfile(workspaceId, ref.profileId)
      : await store.findProfile(workspaceId, ref.identifier);
  if (!id) throw notFound(`No profile matches ${describeRef(ref)}`);
  return id;
}

/**
 * Calls `read` on profile `profileId`'s Durable Object, following redirects to the survivor.
 * Returns the final answer (never a redirect) and the id of the object that gave it.
 *
 * @example const { result } = await followRedirects(id, (to) => env.PROFILE.getByName(to).getProfile());
 */
export async function followRedirects<T extends { status: string }>(
  profileId: string,
  read: (id: string) => Promise<T | Redirected>,
): Promise<{ profileId: string; result: Exclude<T, Redirected> }> {
  let id = profileId;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const result = await read(id);
    if (!isRedirect(result)) return { profileId: id, result: result as Exclude<T, Redirected> };
    id = result.to;
  }
  throw new Error(`profile ${profileId} redirected more than ${MAX_REDIRECTS} times: redirect cycle`);
}

function isRedirect(result: { status: string }): result is Redirected {
  return result.status === "redirect";
}
