/** Following a merged-away profile's tombstone to its survivor: one loop and one hop cap for every caller. */
import type { Redirected } from "./profile-rpc";

/**
 * A tombstone's redirect may lag the graph for a moment mid-merge, so callers follow it; a chain longer
 * than this is a cycle, which is a bug rather than a merge history.
 */
export const MAX_REDIRECT_HOPS = 8;

/** The chain from `profileId` redirected more than {@link MAX_REDIRECT_HOPS} times. */
export class RedirectCycleError extends Error {
  constructor(readonly profileId: string) {
    super(`profile ${profileId} redirected more than ${MAX_REDIRECT_HOPS} times: redirect cycle`);
    this.name = "RedirectCycleError";
  }
}

/**
 * Calls `call` on profile `profileId`'s Durable Object, and again on each survivor it redirects to.
 * Returns the final answer (never a redirect) and the id of the object that gave it; `onRedirect` hears
 * each hop (the ingest path repoints its identity cache). Throws {@link RedirectCycleError} past the cap.
 *
 * @example const { result } = await followRedirects(id, (to) => profileStub(env.PROFILE, to).getProfile());
 */
export async function followRedirects<T extends { status: string }>(
  profileId: string,
  call: (id: string) => Promise<T | Redirected>,
  onRedirect?: (from: string, to: string) => void,
): Promise<{ profileId: string; result: Exclude<T, Redirected> }> {
  let id = profileId;
  for (let hop = 0; hop <= MAX_REDIRECT_HOPS; hop++) {
    const result = await call(id);
    if (!isRedirect(result)) return { profileId: id, result: result as Exclude<T, Redirected> };
    onRedirect?.(id, result.to);
    id = result.to;
  }
  throw new RedirectCycleError(profileId);
}

function isRedirect(result: { status: string }): result is Redirected {
  return result.status === "redirect";
}
