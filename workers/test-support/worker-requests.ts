/** Test helpers for the collector's workerd tests: posting like a client, reading what a profile stored. */

import { env, exports } from "cloudflare:workers";
import type { AcceptedMessage, Identifier } from "@tessera/protocol";
import { identityStoreFor } from "../identity/cached-identity-store";
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
  let profileId = await identityStoreFor(env).findProfile(workspaceId, identifier);
  for (let hop = 0; profileId && hop < 8; hop++) {
    const read = await profileStub(env.PROFILE, profileId).listEvents({ limit: 1000 });
    if (read.status === "ok") return [...read.page.data].reverse();
    if (read.status !== "redirect") return [];
    profileId = read.to;
  }
  return [];
}

/** A unique id per call, so tests sharing a file's storage never see each other's profiles. */
export function uid(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}
