import type { DevServer } from "../support/dev-server";

/** A profile as `GET /v1/profiles/:ref` returns it (the fields these tests read). */
export interface ProfileView {
  id: string;
  event_count: number;
  traits: Record<string, unknown>;
  identifiers: { type: string; value: string }[];
}

/** One stored event as `GET /v1/profiles/:ref/events` returns it. */
export interface EventView {
  type: string;
  event?: string;
  messageId: string;
  anonymousId?: string;
  userId?: string;
}

/** Reads the profile API of a dev server with its secret key; `undefined` while the profile does not exist. */
export async function readProfile(server: DevServer, ref: string): Promise<ProfileView | undefined> {
  const res = await fetch(`${server.url}/v1/profiles/${encodeURIComponent(ref)}`, {
    headers: { Authorization: `Bearer ${server.secretKey}` },
  });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`profile API answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as ProfileView;
}

/** Every stored event of a profile, newest first (follows the cursor). */
export async function readEvents(server: DevServer, ref: string): Promise<EventView[]> {
  const all: EventView[] = [];
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ limit: "100", ...(cursor ? { cursor } : {}) });
    const res = await fetch(`${server.url}/v1/profiles/${encodeURIComponent(ref)}/events?${query}`, {
      headers: { Authorization: `Bearer ${server.secretKey}` },
    });
    if (!res.ok) throw new Error(`events API answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { data: EventView[]; cursor: { has_more: boolean; next?: string } };
    all.push(...body.data);
    cursor = body.cursor.has_more ? body.cursor.next : undefined;
  } while (cursor);
  return all;
}
