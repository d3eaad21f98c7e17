/**
 * The survivors' half of erasing a person a merge undo split off (DESIGN §5: the erase removes their identifiers,
 * events and merges). The undo left the identifiers it gave back in the survivor's object, as departed, so that a
 * stale route to the survivor is refused; only a later merge or graph-checked delivery of them takes them out again,
 * and suppression makes either impossible for an erased person. So the erase takes them out itself. An undo
 * interrupted after the restore, before the survivor's cleanup, left more there: the person's events, identifiers and
 * merge; the erase finishes that cleanup too, as a repeated undo call would.
 */
import type { Identifier } from "@tessera/protocol";
import { survivorsOfUndoneMerges } from "../../d1/queries/merge-undo";
import { currentDefinitionsVersion } from "../audiences/definitions-cache";
import { dropErasedFromSurvivor } from "../identity/merge-undo";
import { followRedirects } from "../profile/follow-redirects";
import { profileStub } from "../profile/profile-stub";

/**
 * Takes what arrived on the erased `profileIds`, and the erased `identifiers` from their departed lists, off every
 * profile an undone merge split one of them off, and off each profile along its chain of merges since (the undo
 * cleaned up at the live end of the chain then). Idempotent: the erase job runs it again with its `profiles` step
 * until the step is recorded done.
 *
 * @example await eraseFromUndoSurvivors(env, workspaceId, ["prf_…"], [{ type: "email", value: "…" }]);
 */
export async function eraseFromUndoSurvivors(
  env: Env,
  workspaceId: string,
  profileIds: readonly string[],
  identifiers: Identifier[],
): Promise<void> {
  const survivors = await survivorsOfUndoneMerges(env.DB, workspaceId, profileIds);
  if (survivors.length === 0) return;
  const definitionsVersion = await currentDefinitionsVersion(env.DB, workspaceId);
  const origins = [...profileIds];
  for (const survivor of survivors) {
    await dropErasedFromSurvivor(env, { survivor, workspaceId, origins, definitionsVersion });
    if (identifiers.length > 0)
      await followRedirects(survivor, (id) => profileStub(env.PROFILE, id).forgetDeparted(identifiers));
  }
}
