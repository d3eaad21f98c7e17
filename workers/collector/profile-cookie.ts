/**
 * The signed, server-set first-party profile cookie (DESIGN §4): it tells a cold isolate which profile a returning
 * browser's anonymous id belongs to, so its events skip the D1 identity read. It only ever vouches for what D1 said
 * when it was set; a stale one (the profile was merged or erased since) is corrected by the profile's Durable Object,
 * which answers "redirect" or "deleted" exactly as for a stale cache entry.
 */
import type { AcceptedMessage } from "@tessera/protocol";
import type { Context } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import type { CollectorEnv } from "./collector-env";

export const PROFILE_COOKIE = "tsr_pid";
/** Browsers cap cookie lifetimes at 400 days; a year covers a returning visitor's usual gaps. */
const MAX_AGE_SECONDS = 365 * 24 * 3600;
/** Where the cookie lives; clearing it must name the same path. */
const COOKIE_OPTIONS = {
  path: "/v1",
  httpOnly: true,
  secure: true,
  // The collector runs on the site's own domain (first party): same-site requests carry it, other sites' do not.
  sameSite: "Lax",
} as const;

/** What the cookie vouches for: in this workspace, this anonymous id belongs to this profile. */
export interface ProfileCookie {
  workspaceId: string;
  anonymousId: string;
  profileId: string;
}

/** The request's cookie when its signature holds; null when absent, forged, or no secret is configured. */
export async function readProfileCookie(
  c: Context<CollectorEnv>,
  secret: string | undefined,
): Promise<ProfileCookie | null> {
  if (!secret) return null;
  const value = await getSignedCookie(c, secret, PROFILE_COOKIE);
  if (!value) return null;
  const [workspaceId, anonymousId, profileId, ...rest] = value.split("\n");
  if (rest.length > 0 || !workspaceId || !anonymousId || !profileId) return null;
  return { workspaceId, anonymousId, profileId };
}

/** Sets (or refreshes) the cookie; unchanged cookies are not sent again. */
export async function writeProfileCookie(
  c: Context<CollectorEnv>,
  secret: string | undefined,
  cookie: ProfileCookie,
  current: ProfileCookie | null,
): Promise<void> {
  if (!secret) return;
  if (
    current?.workspaceId === cookie.workspaceId &&
    current.anonymousId === cookie.anonymousId &&
    current.profileId === cookie.profileId
  )
    return;
  await setSignedCookie(
    c,
    PROFILE_COOKIE,
    [cookie.workspaceId, cookie.anonymousId, cookie.profileId].join("\n"),
    secret,
    { ...COOKIE_OPTIONS, maxAge: MAX_AGE_SECONDS },
  );
}

/**
 * Removes the cookie: the graph no longer gives its anonymous id to the profile it names (or to any one profile), so
 * a cold isolate must ask D1 rather than trust it.
 */
export function clearProfileCookie(c: Context<CollectorEnv>): void {
  deleteCookie(c, PROFILE_COOKIE, COOKIE_OPTIONS);
}

/** The one anonymous id (trimmed, as the identity graph keys it) every message of a browser batch shares, or null. */
export function soleAnonymousId(messages: readonly AcceptedMessage[]): string | null {
  let only: string | null = null;
  for (const m of messages) {
    const id = typeof m.anonymousId === "string" ? m.anonymousId.trim() : "";
    if (id === "" || (only !== null && id !== only)) return null;
    only = id;
  }
  return only;
}
