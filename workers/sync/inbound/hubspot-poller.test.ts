/**
 * The HubSpot email-events poll, through the destination's object: HubSpot records some events late, with a `created`
 * earlier than events already read, so each window reaches back before the cursor; what is read twice is stored once.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { profileStub } from "../../profile/profile-stub";
import { insertDestination } from "../../test-support/destinations";
import { identify } from "../../test-support/messages";
import { seedWorkspace } from "../../test-support/seed";
import { store } from "../../test-support/store-messages";
import { destinationStub } from "../consumer";

afterEach(() => {
  vi.restoreAllMocks();
});

const BASE_URL = `https://${crypto.randomUUID()}.hubspot.invalid`;
const realFetch = globalThis.fetch;

interface FakeEvent {
  id: string;
  created: number;
  type: string;
  recipient: string;
}

/**
 * HubSpot's email events feed for this file's host, as HubSpot answers it: events created inside the asked window,
 * newest first, one per page (so a window is paged), with an offset into that window. Every other request goes out as
 * usual (the runtime is shared with other files' destination objects).
 */
function fakeHubSpot() {
  const events: FakeEvent[] = [];
  const windows: Array<{ start: string | null; end: string | null }> = [];
  vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== BASE_URL) return realFetch(input, init);
    const q = url.searchParams;
    windows.push({ start: q.get("startTimestamp"), end: q.get("endTimestamp") });
    const start = Number(q.get("startTimestamp"));
    const end = Number(q.get("endTimestamp"));
    const matching = events
      .filter((e) => e.created >= start && e.created <= end)
      .sort((a, b) => b.created - a.created || b.id.localeCompare(a.id));
    const from = Number(q.get("offset") ?? 0);
    const page = matching.slice(from, from + 1);
    return Promise.resolve(
      Response.json({ events: page, hasMore: from + 1 < matching.length, offset: String(from + page.length) }),
    );
  });
  return { events, windows };
}

async function openedEvents(profileId: string) {
  const read = await profileStub(env.PROFILE, profileId).listEvents({ limit: 100, type: "track" });
  if (read.status !== "ok") throw new Error(read.status);
  return read.page.data.filter((e) => e.type === "track" && e.event === "Email Opened");
}

describe("HubSpot email events poll", () => {
  it("stores an event HubSpot recorded late, created before the cursor, and what it reads again only once", async () => {
    const { workspaceId } = await seedWorkspace();
    const destinationId = await insertDestination(workspaceId, {
      type: "hubspot",
      config: { access_token: "pat", base_url: BASE_URL },
      audiences: [],
    });
    const [profileId] = await store(workspaceId, [
      identify({ email: "ada@example.com" }, new Date(Date.now() - 86_400_000).toISOString(), { userId: "ada" }),
    ]);
    const hubspot = fakeHubSpot();
    const now = Date.now();
    hubspot.events.push(
      { id: "hs-1", created: now - 60_000, type: "OPEN", recipient: "ada@example.com" },
      { id: "hs-2", created: now - 120_000, type: "OPEN", recipient: "ada@example.com" },
    );
    const poll = () => destinationStub(env, destinationId).poll(destinationId);

    expect(await poll()).toEqual({ stored: 2, unmatched: 0 });
    // Recorded only now, 5 minutes before the newest event the first poll read (the cursor).
    hubspot.events.push({ id: "hs-late", created: now - 60_000 - 300_000, type: "OPEN", recipient: "ada@example.com" });
    hubspot.windows.length = 0;

    // hs-1 and hs-2 are read again inside the overlap and stored once: only the late one is new.
    expect(await poll()).toEqual({ stored: 1, unmatched: 0 });
    const stored = await openedEvents(profileId as string);
    expect(stored.map((e) => e.timestamp).sort()).toEqual(
      [now - 360_000, now - 120_000, now - 60_000].map((ms) => new Date(ms).toISOString()),
    );
    // The window reached 15 minutes before the cursor, and its pages kept one start and end.
    expect(hubspot.windows).toHaveLength(3);
    expect(new Set(hubspot.windows.map((w) => JSON.stringify(w))).size).toBe(1);
    expect(Number(hubspot.windows[0].start)).toBe(now - 60_000 - 15 * 60_000);
  });
});
