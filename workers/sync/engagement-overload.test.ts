/**
 * Engagement back when the runtime is out of room for more profiles (DESIGN §7, reference/maps.md §1d): a vendor that
 * sends a webhook again is pushed back (429, Retry-After) and a poll keeps its cursor, so the backlog stays with the
 * sender; a sender that would drop a refused webhook gets 200, what could not be stored yet being queued.
 */
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import { findDestinationById } from "../../d1/queries/destinations";
import type { IngestJobPack } from "../ingest/retry-jobs";
import { ProfileDO } from "../profile/profile-do";
import { profileStub } from "../profile/profile-stub";
import { errorEnvelope } from "../shared/error-envelope";
import { fakeQueue } from "../test-support/collector-app";
import { insertDestination } from "../test-support/destinations";
import { identify } from "../test-support/messages";
import { seedWorkspace } from "../test-support/seed";
import { store } from "../test-support/store-messages";
import { destinationStub } from "./consumer";
import { marketoPoller } from "./inbound/marketo-poller";
import { inboundRoutes } from "./inbound-routes";
import { signTessera } from "./tessera-signature";

const SECRET = "whsec_overload_0123456789abcdef";

/** What Cloudflare throws from an object that cannot keep up. */
const outOfRoom = () => Object.assign(new Error("Durable Object is overloaded"), { overloaded: true });

/** The Worker's env, with every profile's object out of room and the ingest retry queue recording what it is sent. */
function fullRuntime() {
  // The pipeline logs each refused profile call; what the tests check is the answer.
  vi.spyOn(console, "error").mockImplementation(() => {});
  const queue = fakeQueue();
  const refuse = async () => {
    throw outOfRoom();
  };
  const profiles = { getByName: () => ({ ingest: refuse, mergeInto: refuse }) } as unknown as Env["PROFILE"];
  return {
    queue,
    env: { ...env, PROFILE: profiles, INGEST_RETRY_QUEUE: queue as unknown as Env["INGEST_RETRY_QUEUE"] },
  };
}

const app = new Hono().route("/", inboundRoutes);
app.onError(errorEnvelope);

async function setup(destination: { type: string; config: Record<string, unknown> }) {
  const { workspaceId } = await seedWorkspace();
  const destinationId = await insertDestination(workspaceId, { ...destination, audiences: [] });
  const [profileId] = await store(workspaceId, [
    identify({ email: "ada@example.com" }, new Date(Date.now() - 86_400_000).toISOString(), { userId: "ada" }),
  ]);
  return { workspaceId, destinationId, profileId: profileId as string };
}

async function eventNames(profileId: string) {
  const read = await profileStub(env.PROFILE, profileId).listEvents({ limit: 100, type: "track" });
  if (read.status !== "ok") throw new Error(read.status);
  return read.page.data.map((e) => (e.type === "track" ? e.event : e.type));
}

describe("POST /v1/webhooks/:destinationId out of room", () => {
  it("pushes Mailchimp, which retries, back with 429 and Retry-After, queues nothing, and stores the resend once", async () => {
    const { destinationId, profileId } = await setup({
      type: "mailchimp",
      config: { api_key: "key-us1", list_id: "list1", webhook_secret: SECRET },
    });
    const unsubscribe = () =>
      new Request(`http://tessera.test/v1/webhooks/${destinationId}?secret=${SECRET}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "type=unsubscribe&fired_at=2026-03-26+21%3A40%3A57&data[id]=8a25ff1d98&data[email]=ada%40example.com",
      });
    const full = fullRuntime();
    const refused = await app.request(unsubscribe(), undefined, full.env);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("30");
    expect(await refused.json()).toMatchObject({
      error: { code: "rate_limit_error", message: expect.stringMatching(/out of room.*send it again/i) },
    });
    // The backlog stays with Mailchimp: nothing queued, nothing acknowledged.
    expect(full.queue.sent).toEqual([]);
    expect(await eventNames(profileId)).toEqual([]);

    const again = await app.request(unsubscribe(), undefined, env);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ stored: 1, unmatched: 0 });
    expect(await eventNames(profileId)).toEqual(["Unsubscribed"]);
  });

  it("answers 200 to a generic sender, whose retries Tessera does not know, with what it could not store queued", async () => {
    const { destinationId } = await setup({
      type: "webhook",
      config: { url: "http://receiver.test/unused", secret: SECRET },
    });
    const body = JSON.stringify({ email: "ada@example.com", event: "opened", timestamp: Date.now() / 1000, id: "o-1" });
    const full = fullRuntime();
    const res = await app.request(
      `http://tessera.test/v1/webhooks/${destinationId}`,
      { method: "POST", headers: { "x-tessera-signature": await signTessera(SECRET, body, Date.now()) }, body },
      full.env,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ stored: 1, unmatched: 0 });
    const jobs = (full.queue.sent as IngestJobPack[]).flatMap((pack) => pack.jobs);
    expect(jobs).toEqual([expect.objectContaining({ kind: "deliver", messages: [expect.anything()] })]);
  });
});

describe("engagement poll out of room", () => {
  it("keeps its cursor before the page it could not store; the next poll reads it again and stores it once", async () => {
    const { destinationId, profileId } = await setup({
      type: "marketo",
      config: { base_url: "http://marketo.invalid", client_id: "id", client_secret: "secret", folder_id: 1 },
    });
    const poll = vi.spyOn(marketoPoller, "poll").mockResolvedValue({
      engagements: [
        {
          vendorEventId: "mk-1",
          event: "Email Opened",
          email: "ada@example.com",
          occurredAt: new Date().toISOString(),
          properties: {},
        },
      ],
      cursor: "after-mk-1",
      more: false,
    });
    // The profile's object, called by the destination's object, fails as the local runtime's full SQLite heap does.
    const ingest = vi.spyOn(ProfileDO.prototype, "ingest").mockImplementation(async () => {
      throw new Error("out of memory: SQLITE_NOMEM");
    });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});

    expect(await destinationStub(env, destinationId).poll(destinationId)).toEqual({ stored: 0, unmatched: 0 });
    expect((await findDestinationById(env.DB, destinationId))?.pollCursor).toBeNull();
    expect(await eventNames(profileId)).toEqual([]);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/out of room.*next poll reads again/));

    ingest.mockRestore();
    expect(await destinationStub(env, destinationId).poll(destinationId)).toEqual({ stored: 1, unmatched: 0 });
    expect(poll.mock.calls.map(([, cursor]) => cursor)).toEqual([undefined, undefined]);
    expect((await findDestinationById(env.DB, destinationId))?.pollCursor).toBe("after-mk-1");
    expect(await eventNames(profileId)).toEqual(["Email Opened"]);
  });
});
