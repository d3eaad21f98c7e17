/** Test helpers for the collector's workerd tests: posting like a client, reading what a profile stored. */

import { env, exports } from "cloudflare:workers";
import type { AcceptedMessage, Identifier } from "@tessera/protocol";
import { identityStoreFor } from "../identity/cached-identity-store";
import { followRedirects } from "../profile/follow-redirects";
import { profileStub } from "../profile/profile-stub";
import { basicAuth } from "./seed";

export interface PostOptions {
  /** Write key sent as HTTP Basic user (omit to send none). */
  key?: string;
  headers?: Record<string, string>;
  /** A body sent as is instead of `JSON.stringify(body)`. */
  raw?: BodyInit;
  cf?: Record<string, unknown>;
}

/** `POST path` through the Worker's real fetch handler. */
export function post(path: string, body: unknown, options: PostOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
  if (options.key) headers.authorization = basicAuth(options.key);
  const init: RequestInit & { cf?: Record<string, unknown> } = {
    method: "POST",
    headers,
    body: options.raw ?? JSON.stringify(body),
  };
  if (options.cf) init.cf = options.cf;
  return exports.default.fetch(new Request(`https://collect.test${path}`, init));
}

/** Every event stored in the profile `identifier` belongs to (none when it has no profile), oldest first. */
export async function storedEvents(workspaceId: string, identifier: Identifier): Promise<AcceptedMessage[]> {
  const profileId = await identityStoreFor(env).findProfile(workspaceId, identifier);
  if (!profileId) return [];
  const { result } = await followRedirects(profileId, (id) => profileStub(env.PROFILE, id).listEvents({ limit: 1000 }));
  return result.status === "ok" ? [...result.page.data].reverse() : [];
}

/** A unique id per call, so tests sharing a file's storage never see each other's profiles. */
export function uid(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}
