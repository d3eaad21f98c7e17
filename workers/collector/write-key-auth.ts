/** Which workspace an ingestion request writes to: the write key from Basic auth or the body. */
import { lookupKey } from "../shared/api-keys";
import { unauthenticated } from "../shared/errors";

/**
 * The workspace of `writeKey`. A missing, unknown, revoked or secret key answers 401: secret keys read
 * profiles and must never be shipped in a page, so accepting them here would encourage exactly that.
 */
export async function workspaceForWriteKey(db: D1Database, writeKey: string | null | undefined): Promise<string> {
  if (!writeKey) {
    throw unauthenticated(
      "Missing write key: send HTTP Basic auth with the write key as user, or writeKey in the body",
    );
  }
  const owner = await lookupKey(db, writeKey);
  if (!owner) throw unauthenticated("Unknown or revoked write key");
  if (owner.kind !== "write") throw unauthenticated("This is not a write key: ingestion takes a source's write key");
  return owner.workspaceId;
}
