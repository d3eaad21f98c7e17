/** From a parsed ref to a live profile: the identity graph answers which profile, its Durable Object answers what. */
import type { Identifier } from "@tessera/protocol";
import { deletionOfProfile } from "../../d1/queries/deletions";
import { normalizeIdentifier } from "../identity/extract";
import { erasedAmong } from "../identity/graph-d1";
import type { IdentityStore } from "../identity/identity-store";
import { loadIdentityRules } from "../identity/rules";
import { notFound, validationError } from "../shared/errors";
import { describeRef, type ProfileRef } from "./profile-ref";

/**
 * The live profile id a ref names in this workspace, or a 404. A merged-away id answers with its survivor.
 * The graph is scoped by workspace, so another workspace's profile is exactly as unknown as a made-up one.
 */
export async function resolveProfileRef(
  store: IdentityStore,
  db: D1Database,
  workspaceId: string,
  ref: ProfileRef,
): Promise<string> {
  return (await lookUpProfileRef(store, db, workspaceId, ref)).live;
}

/**
 * {@link resolveProfileRef}, also saying which identifier the ref named (normalised; null for a profile id): a GDPR
 * erase resolves it again when it erases, since a merge undo can move the identifier to another profile meanwhile.
 *
 * @example const { live, identifier } = await lookUpProfileRef(store, env.DB, ws, ref); // identifier: {type, value}
 */
export async function lookUpProfileRef(
  store: IdentityStore,
  db: D1Database,
  workspaceId: string,
  ref: ProfileRef,
): Promise<{ live: string; identifier: Identifier | null }> {
  if (ref.kind === "id") {
    const id = await store.liveProfile(workspaceId, ref.profileId);
    if (id) return { live: id, identifier: null };
    const erasedBy = await deletionOfProfile(db, workspaceId, ref.profileId);
    throw notFound(
      `No profile matches ${describeRef(ref)}${erasedBy ? `: it was erased (GDPR delete ${erasedBy.id}, GET /v1/deletions/${erasedBy.id})` : ""}`,
    );
  }
  const identifier = await identifierOf(db, workspaceId, ref);
  const id = await store.findProfile(workspaceId, identifier);
  if (id) return { live: id, identifier };
  // Said so a GDPR tool that sends its DELETE again (after a timeout, say) can tell "done before" from "never here".
  const erased = (await erasedAmong(db, workspaceId, [identifier])).size > 0;
  throw notFound(
    `No profile matches ${describeRef(ref)}${erased ? ": it belonged to a profile that was erased (GDPR delete), and events carrying it are dropped" : ""}`,
  );
}

/** A national phone number takes the workspace's default country, exactly as the collector normalised it. */
async function identifierOf(
  db: D1Database,
  workspaceId: string,
  ref: Exclude<ProfileRef, { kind: "id" }>,
): Promise<Identifier> {
  if (ref.kind === "identifier") return ref.identifier;
  const { defaultCountry } = await loadIdentityRules(db, workspaceId);
  const normalized = normalizeIdentifier("phone", ref.value, { defaultCountry });
  if (!normalized.ok) throw validationError(`Profile ref is invalid: ${normalized.reason}`);
  return normalized.identifier;
}
