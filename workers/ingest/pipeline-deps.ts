/** The pipeline's real dependencies: D1 rules and definitions version, the isolate's cached identity store, ProfileDO stubs. */
import { currentDefinitionsVersion } from "../audiences/definitions-cache";
import { identityStoreFor } from "../identity/cached-identity-store";
import { loadIdentityRules } from "../identity/rules";
import { profileStub } from "../profile/profile-stub";
import { changeSinkFor } from "./change-delivery";
import type { IngestDeps } from "./pipeline";

/** @example const report = await ingestMessages(ingestDepsFor(env), workspaceId, items); */
export function ingestDepsFor(env: Env): IngestDeps {
  return {
    loadRules: (workspaceId) => loadIdentityRules(env.DB, workspaceId),
    definitionsVersion: (workspaceId) => currentDefinitionsVersion(env.DB, workspaceId),
    identity: identityStoreFor(env),
    profile: (profileId) => profileStub(env.PROFILE, profileId),
    changes: changeSinkFor(env),
  };
}
