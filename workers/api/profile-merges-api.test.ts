import { env } from "cloudflare:workers";
import type { AcceptedMessage, MergeRecord, Profile, ProfileEventsPage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { freshId, identify, track } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";

/** A visitor browses anonymously, logs in elsewhere first, then identifies on the first device: two profiles merge. */
async function mergedVisitor() {
  const ws = await seedWorkspace();
  const browse = track("Product Viewed", "2025-01-01T00:00:00.000Z", { anonymousId: "anon-m" });
  const login = identify({ name: "Max" }, "2025-01-02T00:00:00.000Z", { anonymousId: undefined, userId: "u-m" });
  const link = identify({ plan: "pro" }, "2025-01-03T00:00:00.000Z", { anonymousId: "anon-m", userId: "u-m" });
  const [older, newer, survivor] = await store(ws.workspaceId, [browse, login, link]);
  const get = async <T>(path: string) => {
    const res = await api(path, bearer(ws.secretKey));
    expect(res.status, path).toBe(200);
    return res.json<T>();
  };
  return { older: older as string, newer: newer as string, survivor, link, messages: [browse, login, link], get };
}

describe("merged profiles through the profile API", () => {
  it("keeps the oldest profile and lists the merge that formed it", async () => {
    const { older, newer, survivor, link, get } = await mergedVisitor();
    expect(older).not.toBe(newer);
    expect(survivor).toBe(older);
    const merges = await get<{ data: MergeRecord[] }>(`/v1/profiles/${older}/merges`);
    expect(merges.data).toEqual([
      expect.objectContaining({ from: newer, into: older, message_id: link.messageId, rule: expect.any(String) }),
    ]);
    expect(Date.parse(merges.data[0].created_at)).not.toBeNaN();
  });

  it("answers a merged-away id, and its identifiers, with the survivor", async () => {
    const { older, newer, get } = await mergedVisitor();
    for (const ref of [newer, "user_id:u-m", "anonymous_id:anon-m"]) {
      const profile = await get<Profile>(`/v1/profiles/${ref}`);
      expect(profile.id, ref).toBe(older);
      expect(profile.merged_from, ref).toEqual([newer]);
      expect(profile.traits, ref).toMatchObject({ name: "Max", plan: "pro" });
    }
    const viaLoser = await get<{ data: MergeRecord[] }>(`/v1/profiles/${newer}/merges`);
    expect(viaLoser.data.map((m) => m.from)).toEqual([newer]);
  });

  it("lists a profile merged away within the request that created it, which never held an event", async () => {
    const ws = await seedWorkspace();
    const messages = [
      identify({ email: "max@example.com" }, "2025-01-01T00:00:00.000Z", {
        anonymousId: "anon-one",
        userId: undefined,
      }),
      identify({ name: "Max" }, "2025-01-01T00:00:01.000Z", { anonymousId: undefined, userId: "u-one" }),
      {
        type: "alias",
        previousId: "anon-one",
        userId: "u-one",
        messageId: freshId("msg"),
        timestamp: "2025-01-01T00:00:02.000Z",
        receivedAt: "2025-01-01T00:00:03.000Z",
        context: {},
      } as AcceptedMessage,
    ];
    const report = await ingestMessages(
      ingestDepsFor(env),
      ws.workspaceId,
      messages.map((message, index) => ({ index, message })),
    );
    expect(report.failed).toEqual([]);
    const read = async <T>(path: string) => (await api(path, bearer(ws.secretKey))).json<T>();
    const merges = await read<{ data: MergeRecord[] }>("/v1/profiles/user_id:u-one/merges");
    expect(merges.data).toHaveLength(1);
    const [{ from, into }] = merges.data;
    const profile = await read<Profile>(`/v1/profiles/${from}`);
    expect(profile.id).toBe(into);
    expect(profile.merged_from).toEqual([from]);
    expect(profile.event_count).toBe(3);
  });

  it("shows events from both sides in the survivor's timeline", async () => {
    const { newer, messages, get } = await mergedVisitor();
    const page = await get<ProfileEventsPage>(`/v1/profiles/${newer}/events`);
    expect(page.data.map((m) => m.messageId)).toEqual(messages.map((m) => m.messageId).reverse());
  });

  it("lists no merges for a profile that never merged", async () => {
    const ws = await seedWorkspace();
    const [id] = await store(ws.workspaceId, [track("Solo", "2025-01-01T00:00:00.000Z", { anonymousId: "anon-solo" })]);
    const res = await api(`/v1/profiles/${id}/merges`, bearer(ws.secretKey));
    expect(await res.json()).toMatchObject({ data: [] });
  });
});

describe("shared device through the profile API", () => {
  it("keeps two people apart and explains the refused link in dropped_links", async () => {
    const ws = await seedWorkspace();
    const first = identify({ name: "U1" }, "2025-01-01T00:00:00.000Z", { anonymousId: "anon-shared", userId: "u1" });
    const second = identify({ name: "U2" }, "2025-01-02T00:00:00.000Z", { anonymousId: "anon-shared", userId: "u2" });
    const [p1, p2] = await store(ws.workspaceId, [first, second]);
    expect(p1).not.toBe(p2);
    const read = async <T>(path: string) => (await api(path, bearer(ws.secretKey))).json<T>();
    const u1 = await read<Profile>("/v1/profiles/user_id:u1");
    expect(u1.id).toBe(p1);
    expect(u1.traits).toMatchObject({ name: "U1" });
    const u1Events = await read<ProfileEventsPage>("/v1/profiles/user_id:u1/events");
    expect(u1Events.data.map((m) => m.messageId)).toEqual([first.messageId]);
    const explained = await read<{ data: MergeRecord[]; dropped_links: Array<Record<string, unknown>> }>(
      "/v1/profiles/user_id:u2/merges",
    );
    expect(explained.data).toEqual([]);
    expect(explained.dropped_links).toEqual([
      expect.objectContaining({
        profile_id: p2,
        owner_profile: p1,
        identifier: { type: "anonymous_id", value: "anon-shared" },
        message_id: second.messageId,
      }),
    ]);
  });
});
