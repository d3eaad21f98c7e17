/** A merge undo as the two profile objects see it, without the identity graph's part (workspace `ws_test`). */
import { env } from "cloudflare:workers";
import { profileStub } from "../profile/profile-stub";

/**
 * `loser` (created at `createdAt`) pulls back from `survivor` what arrived on it, then `survivor` drops what that
 * restore read: the two object calls of `POST /v1/merges/:id/undo`.
 */
export async function undoAtObjects(loser: string, survivor: string, createdAt: number): Promise<void> {
  const restored = await profileStub(env.PROFILE, loser).restoreFrom({
    profileId: loser,
    workspaceId: "ws_test",
    createdAt,
    survivorId: survivor,
    origins: [loser],
    definitionsVersion: 0,
  });
  if (restored.status !== "restored") throw new Error(`restore: ${restored.status}`);
  await profileStub(env.PROFILE, survivor).dropOrigins({
    workspaceId: "ws_test",
    definitionsVersion: 0,
    origins: [loser],
    through: restored.through,
  });
}
