/**
 * Test fixtures for the profile API: messages stored the way the collector stores them (identity graph, then the
 * profile's Durable Object), without going through HTTP ingestion, so the read API is tested on its own.
 */

import { env, exports } from "cloudflare:workers";
import type { AcceptedMessage } from "@tessera/protocol";
import { identityStoreFor } from "../identity/cached-identity-store";
import { extractIdentifiers } from "../identity/extract";
import { DEFAULT_IDENTITY_RULES } from "../identity/rules";
import { profileStub } from "../profile/profile-stub";

/**
 * Resolves and stores `messages` one by one in `workspaceId`, folding merged profiles into their survivor.
 * Returns the profile each message landed on (null when its identifiers are suppressed).
 */
export async function store(workspaceId: string, messages: AcceptedMessage[]): Promise<Array<string | null>> {
  const identity = identityStoreFor(env);
  const landed: Array<string | null> = [];
  for (const message of messages) {
    const extracted = extractIdentifiers(message, DEFAULT_IDENTITY_RULES);
    const at = Date.parse(message.timestamp);
    const [outcome] = await identity.resolve(workspaceId, DEFAULT_IDENTITY_RULES, [
      { messageId: message.messageId, identifiers: extracted.identifiers, at, previousId: extracted.previousId },
    ]);
    if (outcome.kind !== "profile") {
      landed.push(null);
      continue;
    }
    for (const { from, into } of outcome.merged) await profileStub(env.PROFILE, from).mergeInto(into);
    const result = await profileStub(env.PROFILE, outcome.profileId).ingest({
      profileId: outcome.profileId,
      workspaceId,
      messages: [message],
      identifiers: outcome.attached.map((id) => ({ ...id, firstSeen: at })),
    });
    if (result.status !== "stored") throw new Error(`fixture ingest into ${outcome.profileId}: ${result.status}`);
    landed.push(outcome.profileId);
  }
  return landed;
}

/** A request to the Worker with `authorization` (a full header value, or none). */
export function api(path: string, authorization?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (authorization) headers.set("authorization", authorization);
  return exports.default.fetch(`http://tessera.test${path}`, { ...init, headers });
}
