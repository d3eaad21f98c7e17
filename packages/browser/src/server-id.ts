/**
 * Asks the first-party id endpoint (`GET /v1/id`) for the anonymous id. The Worker keeps it in an HttpOnly cookie
 * it sets itself, which Safari's 7-day purge of script-written storage does not touch, and answers with it
 * (adopting `id`, ours, when it has none yet). `mode` `replace` makes ours win over the cookie's (the SDK's stored
 * id is the authority: reset() rotates it); `forget` deletes the cookie. Those two outlive the page (keepalive),
 * as reset() is often followed by a navigation. Resolves undefined on any failure: the local id stays.
 */
export async function fetchServerId(
  endpoint: string,
  id: string,
  domain: string,
  mode?: "replace" | "forget",
): Promise<string | undefined> {
  try {
    const url = `${endpoint}?id=${encodeURIComponent(id)}&domain=${encodeURIComponent(domain)}${mode ? `&${mode}=1` : ""}`;
    const res = await fetch(url, { credentials: "include", keepalive: !!mode });
    const body = (await res.json()) as { anonymousId?: string };
    return body.anonymousId || undefined;
  } catch {}
}
