/** The identity graph's half of a GDPR erase: the profile's merge tree leaves the graph, its identifiers suppressed. */
import type { Identifier } from "@tessera/protocol";
import { eraseMergedTree, isStaleWrite, readMergedTree } from "../../d1/queries/identity-graph-sql";
import { suppressionHashes } from "./suppressions";

/** Attempts before an erase gives up to a resolve that keeps changing the same profiles (the job retries later). */
const MAX_ATTEMPTS = 8;

/** What the graph erased: the profile and every profile merged into it, and the identifiers they held. */
export interface ErasedTree {
  profileIds: string[];
  identifiers: Identifier[];
}

/**
 * Erases `profileId`'s live survivor and every profile merged into it from the graph, storing the keyed hashes of
 * their identifiers as suppressions (never the identifiers themselves). `alongside(tree)` adds statements that
 * commit in the same transaction, so a durable job can record what was erased exactly when it is erased. Nothing is
 * erased (and `alongside` is not called) when the profile is unknown or already deleted.
 *
 * @example const { profileIds } = await eraseFromGraph(env.DB, (ws, id) => store.liveProfile(ws, id), ws, "prf_…");
 */
export async function eraseFromGraph(
  db: D1Database,
  liveProfile: (workspaceId: string, profileId: string) => Promise<string | null>,
  workspaceId: string,
  profileId: string,
  alongside: (tree: ErasedTree) => D1PreparedStatement[] = () => [],
): Promise<ErasedTree> {
  for (let attempt = 1; ; attempt++) {
    const live = await liveProfile(workspaceId, profileId);
    if (!live) return { profileIds: [], identifiers: [] };
    const { profiles, identifiers: owned } = await readMergedTree(db, workspaceId, live);
    // Types and values only: they are kept in the deletion job and handed to destinations.
    const identifiers = owned.map(({ type, value }) => ({ type, value }));
    const hashes = await suppressionHashes(workspaceId, identifiers);
    const erased = identifiers.map((id, i) => ({ ...id, hash: hashes[i] }));
    const tree: ErasedTree = { profileIds: profiles.map((p) => p.id), identifiers };
    try {
      await eraseMergedTree(db, workspaceId, profiles, erased, Date.now(), alongside(tree));
      return tree;
    } catch (err) {
      if (!isStaleWrite(err) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}
