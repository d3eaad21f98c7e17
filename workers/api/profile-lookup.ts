/** From a parsed ref to a live profile: the identity graph answers which profile, its Durable Object answers what. */
import type { IdentityStore } from "../identity/identity-store";
import { notFound } from "../shared/errors";
import { describeRef, type ProfileRef } from "./profile-ref";

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
