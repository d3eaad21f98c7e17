/**
 * Test support for the read API: messages stored through the production ingest pipeline (identity graph, the
 * profile's Durable Object, merge folds), without HTTP ingestion in between, so read tests control every field.
 */

import { env, exports } from "cloudflare:workers";
import type { AcceptedMessage } from "@tessera/protocol";
import { identityStoreFor } from "../identity/cached-identity-store";
import { extractIdentifiers } from "../identity/extract";
import { DEFAULT_IDENTITY_RULES } from "../identity/rules";
import { ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";

/**
 * Stores `messages` one by one in `workspaceId` with `ingestMessages`, as the collector does for a request.
 * Returns the live profile each message landed on right after it was stored (null when it was dropped,
 * e.g. its identifiers are suppressed).
 */
export async function store(workspaceId: string, messages: AcceptedMessage[]): Promise<Array<string | null>> {
  const landed: Array<string | null> = [];
  for (const message of messages) {
    const report = await ingestMessages(ingestDepsFor(env), workspaceId, [{ index: 0, message }]);
    if (report.failed.length > 0 || report.rejected.length > 0) {
      throw new Error(`storing ${message.messageId} failed: ${JSON.stringify(report)}`);
    }
    // The message's leading identifier (user id first) names the profile it now belongs to.
    const [identifier] = extractIdentifiers(message, DEFAULT_IDENTITY_RULES).identifiers;
    landed.push(identifier ? await identityStoreFor(env).findProfile(workspaceId, identifier) : null);
  }
  return landed;
}

/** A request to the Worker with `authorization` (a full header value, or none). */
export function api(path: string, authorization?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (authorization) headers.set("authorization", authorization);
  return exports.default.fetch(`http://tessera.test${path}`, { ...init, headers });
}
