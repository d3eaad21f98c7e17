/** GDPR delete (`DELETE /v1/profiles/:ref`): a person's data goes from the graph, the profiles and the destinations. */
import type { Identifier } from "@tessera/protocol";
import { orm } from "../../d1/client";
import { deleteMembershipsOfProfiles } from "../../d1/queries/members";
import type { IdentityStore } from "../identity/identity-store";
import { profileStub } from "../profile/profile-stub";

/**
 * Sent to `SYNC_QUEUE` so every connected destination deletes the person too. No consumer reads it yet: the sync
 * engine (a later issue) will fan it out to each destination's delete call. Suppression needs nothing from it.
 */
export interface SyncDeleteMessage {
  kind: "delete";
  workspaceId: string;
  /** The erased profile and every profile that had been merged into it. */
  profileIds: string[];
  /** Every identifier they held, now suppressed: what destinations match the person by. */
  identifiers: Identifier[];
}

export interface EraseSummary {
  profileIds: string[];
  identifiers: Identifier[];
}

/**
 * Erases live profile `profileId` of `workspaceId`. The Durable Objects are wiped before the graph forgets the
 * profile, so a failure part-way leaves the profile findable and a retried DELETE finishes the job; a wiped object
 * refuses later writes. Profiles merged in between the two steps are wiped after the graph names them.
 *
 * @example const { profileIds } = await eraseProfile(env, identityStoreFor(env), ws, "prf_…");
 */
export async function eraseProfile(
  env: Env,
  store: IdentityStore,
  workspaceId: string,
  profileId: string,
): Promise<EraseSummary> {
  const merged = await store.mergesInto(workspaceId, profileId);
  const wiped = new Set([profileId, ...merged.map((m) => m.from)]);
  await wipeObjects(env, [...wiped]);
  const erased = await store.erase(workspaceId, profileId);
  await wipeObjects(
    env,
    erased.profileIds.filter((id) => !wiped.has(id)),
  );
  const profileIds = [...new Set([...wiped, ...erased.profileIds])];
  // Each object delivered its own exits before it was wiped; this catches any it could not deliver.
  const [first, ...rest] = deleteMembershipsOfProfiles(env.DB, workspaceId, profileIds);
  await orm(env.DB).batch([first, ...rest]);
  const message: SyncDeleteMessage = { kind: "delete", workspaceId, profileIds, identifiers: erased.identifiers };
  await env.SYNC_QUEUE.send(message);
  return { profileIds, identifiers: erased.identifiers };
}

async function wipeObjects(env: Env, profileIds: string[]): Promise<void> {
  await Promise.all(profileIds.map((id) => profileStub(env.PROFILE, id).erase()));
}
