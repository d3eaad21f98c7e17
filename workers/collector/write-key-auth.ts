/** Which workspace an ingestion request writes to: the write key from Basic auth or the body. */
import { lookupKeyFrom } from "../shared/api-keys";
import { unauthenticated } from "../shared/errors";

/**
 * The one answer to a key that cannot write, whatever the reason (unknown, revoked, or a secret key): distinct texts
 * would let anyone holding a string learn whether it is a live key of some workspace (issue 10, finding 9).
 */
export const INVALID_WRITE_KEY = "Invalid write key: send a live source write key (HTTP Basic user, or writeKey)";

/**
 * The workspace of `writeKey`, sent from `address`. A missing, unknown, revoked or secret key answers 401: secret
 * keys read profiles and must never be shipped in a page, so accepting them here would encourage exactly that.
 */
export async function workspaceForWriteKey(
  env: Env,
  address: string | null,
  writeKey: string | null | undefined,
): Promise<string> {
  if (!writeKey) {
    throw unauthenticated(
      "Missing write key: send HTTP Basic auth with the write key as user, or writeKey in the body or the query string",
    );
  }
  const owner = await lookupKeyFrom(env, address, writeKey);
  if (owner?.kind !== "write") throw unauthenticated(INVALID_WRITE_KEY);
  return owner.workspaceId;
}
