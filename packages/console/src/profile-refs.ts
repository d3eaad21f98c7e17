/**
 * What the search box understands: a profile id (`prf_…`), an identifier written `type:value` (`user_id:42`), or a
 * bare value, tried as the identifier types it can be (an email, a phone, else a user id then an anonymous id).
 *
 * @example candidateRefs("jane@example.com") // ["email:jane@example.com"]
 * @example candidateRefs("42") // ["user_id:42", "anonymous_id:42"]
 */
export function candidateRefs(query: string): string[] {
  const q = query.trim();
  if (!q) return [];
  if (/^prf_[A-Za-z0-9_-]+$/.test(q)) return [q];
  if (/^[a-z][a-z0-9_]*:./i.test(q)) return [q];
  if (q.includes("@")) return [`email:${q}`];
  if (/^\+?[\d\s().-]{6,}$/.test(q)) return [`phone:${q}`, `user_id:${q}`];
  return [`user_id:${q}`, `anonymous_id:${q}`];
}

/** The console URL of a profile. */
export const profileHref = (ref: string) => `/console/profiles/${encodeURIComponent(ref)}`;

/** The API path of a profile (`suffix`: `/events`, `/merges`). */
export const profileApi = (ref: string, suffix = "") => `/v1/profiles/${encodeURIComponent(ref)}${suffix}`;
