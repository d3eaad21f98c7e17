/**
 * A request's membership changes are delivered together: its profiles' objects hand their outbox rows back, the
 * request writes them to D1 in one batch and to the sync queue in one send per delivery, then confirms to each object.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { listMembers } from "../../d1/queries/members";
import type { OutboxHandoff } from "../profile/outbox";
import { defineAll } from "../test-support/definitions";
import { track } from "../test-support/messages";
import { outboxStateOf } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import { membershipChangesPerSend } from "../test-support/sync-messages";
import { ChangeDelivery, type ChangeSink } from "./change-delivery";
import { ingestMessages } from "./pipeline";
import { ingestDepsFor } from "./pipeline-deps";

afterEach(() => {
  vi.restoreAllMocks();
});

const visitors = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    index: i,
    message: track("Page Loaded", new Date().toISOString(), { anonymousId: `${tag}-${i}` }),
  }));

const members = async (workspaceId: string) =>
  (await listMembers(env.DB, workspaceId, "audience", "visitors", { limit: 100 })).map((m) => m.profileId).sort();

/** The sync messages sent about these profiles, per `sendBatch` call. */
function sendsAbout(
  sent: { mock: { calls: Array<[Iterable<MessageSendRequest<unknown>>, ...unknown[]]> } },
  ids: Set<string>,
) {
  return membershipChangesPerSend(sent)
    .map((batch) => batch.filter((c) => ids.has(c.profileId)))
    .filter((batch) => batch.length > 0);
}

describe("a request's membership changes", () => {
  it("reach D1 and the sync queue together before the request is answered, and leave no outbox or alarm behind", async () => {
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, { audiences: { visitors: { event: "*" } } });
    const sent = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    const report = await ingestMessages(ingestDepsFor(env), workspaceId, visitors(20, "together"));
    expect(report.failed).toEqual([]);
    const ids = report.profileIds;
    expect(ids).toHaveLength(20);
    // Already in D1 when the request is answered: no object had to wait for its alarm.
    expect(await members(workspaceId)).toEqual([...ids].sort());
    // 16 profiles per delivery: two sends for twenty, not twenty.
    const sends = sendsAbout(sent, new Set(ids));
    expect(sends.map((b) => b.length)).toEqual([16, 4]);
    for (const id of ids) expect(await outboxStateOf(id)).toEqual({ outbox: 0, alarm: null });
  });

  it("are delivered by the objects themselves when the request's delivery fails, and none is lost", async () => {
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, { audiences: { visitors: { event: "*" } } });
    vi.spyOn(console, "error").mockImplementation(() => {});
    const queue = env.SYNC_QUEUE;
    const send = queue.sendBatch.bind(queue);
    let refused = 0;
    // The first send is refused: the request's one delivery fails, and each object sends on its own.
    const sent = vi.spyOn(queue, "sendBatch").mockImplementation(async (batch, options) => {
      if (refused++ === 0) throw new Error("queue unavailable");
      return send(batch, options);
    });
    const report = await ingestMessages(ingestDepsFor(env), workspaceId, visitors(3, "fallback"));
    const ids = report.profileIds;
    await vi.waitFor(async () => expect(await members(workspaceId)).toEqual([...ids].sort()), { timeout: 5_000 });
    await vi.waitFor(
      async () => {
        for (const id of ids) expect((await outboxStateOf(id)).outbox).toBe(0);
      },
      { timeout: 5_000 },
    );
    const delivered = sendsAbout(sent, new Set(ids)).flat();
    // Refused once as a whole, then once per object.
    expect(
      delivered
        .filter((c) => c.member)
        .map((c) => c.profileId)
        .sort(),
    ).toEqual([...ids, ...ids].sort());
  });
});

describe("ChangeDelivery", () => {
  const handoff = (profileId: string, changes: number): OutboxHandoff => ({
    workspaceId: "ws",
    profileId,
    upTo: changes,
    members: Array.from({ length: changes }, (_, i) => ({
      kind: "audience",
      key: `a${i}`,
      member: true,
      at: 1,
      seq: i + 1,
    })),
    sync: [],
  });
  function recordingSink() {
    const delivered: string[][] = [];
    const confirmed: Array<[string, number]> = [];
    const sink: ChangeSink = {
      async deliver(_ws, handoffs) {
        delivered.push(handoffs.map((h) => h.profileId));
      },
      async confirm(profileId, upTo) {
        confirmed.push([profileId, upTo]);
      },
    };
    return { sink, delivered, confirmed };
  }

  it("stays within a request's budget of membership rows: past it, objects deliver their own", async () => {
    const { sink, delivered, confirmed } = recordingSink();
    const changes = new ChangeDelivery(sink, "ws");
    // 120 profiles with 50 changes each: 6,000 rows, past the 5,000 a request delivers.
    const ids = Array.from({ length: 120 }, (_, i) => `prf_${String(i).padStart(3, "0")}`);
    for (const id of ids) changes.add(handoff(id, 50));
    await changes.done();
    expect(delivered.flat()).toEqual(ids.slice(0, 100));
    expect(delivered.every((batch) => batch.length <= 16)).toBe(true);
    const byId = new Map(confirmed);
    expect(ids.slice(0, 100).every((id) => byId.get(id) === 50)).toBe(true);
    // The rest are told to deliver their own (nothing dropped: upTo 0).
    expect(ids.slice(100).map((id) => byId.get(id))).toEqual(Array(20).fill(0));
  });

  it("tells every object of a failed delivery to deliver its own", async () => {
    const confirmed: Array<[string, number]> = [];
    const sink: ChangeSink = {
      deliver: async () => {
        throw new Error("D1 unavailable");
      },
      confirm: async (profileId, upTo) => {
        confirmed.push([profileId, upTo]);
      },
    };
    vi.spyOn(console, "error").mockImplementation(() => {});
    const changes = new ChangeDelivery(sink, "ws");
    changes.add(handoff("prf_a", 2));
    changes.add(handoff("prf_b", 1));
    await changes.done();
    expect(confirmed.sort()).toEqual([
      ["prf_a", 0],
      ["prf_b", 0],
    ]);
  });
});
