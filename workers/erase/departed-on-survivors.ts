/**
 * The survivors' half of erasing a person a merge undo split off (DESIGN §5: the erase removes their identifiers).
 * The undo left the identifiers it gave back in the survivor's object, as departed, so that a stale route to the
 * survivor is refused; only a later merge or graph-checked delivery of them takes them out again, and suppression
 * makes either impossible for an erased person. So the erase takes them out itself.
 */
import type { Identifier } from "@tessera/protocol";
import { survivorsOfUndoneMerges } from "../../d1/queries/merge-undo";
import { followRedirects } from "../profile/follow-redirects";
import { profileStub } from "../profile/profile-stub";

/**
 * Takes the erased `identifiers` out of the departed lists of every profile an undone merge split one of the erased
 * `profileIds` off, and of each profile along its chain of merges since (the undo listed them at the live end of the
 * chain then). Idempotent: the erase job runs it again with its `profiles` step until the step is recorded done.
 *
 * @example await forgetDepartedOnSurvivors(env, workspaceId, ["prf_…"], [{ type: "email", value: "…" }]);
 */
export async function forgetDepartedOnSurvivors(
  env: Env,
  workspaceId: string,
  profileIds: readonly string[],
  identifiers: Identifier[],
): Promise<void> {
  if (identifiers.length === 0) return;
  const survivors = await survivorsOfUndoneMerges(env.DB, workspaceId, profileIds);
  for (const survivor of survivors) {
    await followRedirects(survivor, (id) => profileStub(env.PROFILE, id).forgetDeparted(identifiers));
  }
}
