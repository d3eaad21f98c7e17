import { createExecutionContext, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Audience, AudienceMembersPage, BackfillMessage, ComputedTrait } from "@tessera/protocol";
import { describe, expect, it, vi } from "vitest";
import { readDefinitionsVersion } from "../../d1/queries/definitions";
import type { MemberChange } from "../../d1/queries/members";
import worker from "../index";
import { changeSinkFor } from "../ingest/change-delivery";
import { track } from "../test-support/messages";
import { outboxDelivered, outboxStateOf, profileOf } from "../test-support/profile-reads";
import { bearer, seedWorkspace } from "../test-support/seed";
import { store } from "../test-support/store-messages";
import type { OutboxHandoff } from "./outbox";
import { profileStub } from "./profile-stub";

type Workspace = Awaited<ReturnType<typeof seedWorkspace>>;

/**
 * `method path` through the Worker's fetch handler with the workspace's secret key. Backfills are recorded in
 * `backfills`, not run: a profile evaluates with a changed definition only when the test says so.
 */
async function call(ws: Workspace, backfills: BackfillMessage[], method: string, path: string, body?: unknown) {
  const recording = {
    send: async (message: BackfillMessage) => {
      backfills.push(message);
    },
  } as unknown as Queue;
  const request = new Request(`http://tessera.test${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: bearer(ws.secretKey) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...env, BACKFILL_QUEUE: recording }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** A workspace whose definitions the test changes through the API, and reads of what the API shows of them. */
async function workspace() {
  const ws = await seedWorkspace();
  const backfills: BackfillMessage[] = [];
  const define = async (path: string, key: string, definition: unknown) => {
    const res = await call(ws, backfills, "POST", path, { key, definition });
    expect(res.status, await res.clone().text()).toBe(201);
    return res.json<Audience | ComputedTrait>();
  };
  const remove = async (path: string) => expect((await call(ws, backfills, "DELETE", path)).status).toBe(204);
  const read = <T>(path: string) => call(ws, backfills, "GET", path).then((res) => res.json<T>());
  /** The audience `vip`'s size and members, and the computed trait `signups`' size (undefined when not defined). */
  const shown = async () => ({
    vip: (await read<Audience>("/v1/audiences/vip")).size,
    members: (await read<AudienceMembersPage>("/v1/audiences/vip/members")).data.map((m) => m.profile_id),
    signups: (await read<Partial<ComputedTrait>>("/v1/computed-traits/signups")).size,
  });
  return { ...ws, backfills, define, remove, shown };
}

/** Ingests one event into object `profileId` as a request does: its changes come back for the request to deliver. */
async function handedOff(workspaceId: string, profileId: string, event: string): Promise<OutboxHandoff> {
  const stored = await profileStub(env.PROFILE, profileId).ingest({
    profileId,
    workspaceId,
    messages: [track(event, new Date().toISOString(), { anonymousId: profileId })],
    identifiers: [],
    definitionsVersion: await readDefinitionsVersion(env.DB, workspaceId),
    handOff: true,
  });
  if (!("outbox" in stored) || !stored.outbox) throw new Error(`profile ${profileId} handed nothing back`);
  return stored.outbox;
}

describe("a membership change delivered after its definition was deleted and defined again", () => {
  it("is not written to the new definition, which the profile does not qualify for", async () => {
    const { backfills, define, remove, shown, ...ws } = await workspace();
    const vipA = await define("/v1/audiences", "vip", { event: "Signed Up" });
    const signupsA = await define("/v1/computed-traits", "signups", { op: "count", event: "Signed Up" });

    // The profile enters both; D1 takes the changes but the sync queue refuses them, so they stay in the outbox.
    const refused = vi
      .spyOn(env.SYNC_QUEUE, "sendBatch")
      .mockRejectedValue(new Error("Queue sendBatch failed: Internal Server Error"));
    const [landed] = await store(ws.workspaceId, [track("Signed Up", new Date().toISOString(), { anonymousId: "l1" })]);
    const profileId = landed as string;
    // The request's delivery, then the object's own.
    await vi.waitFor(() => expect(refused.mock.calls.length).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
    expect((await outboxStateOf(profileId)).outbox).toBe(2);
    expect(await shown()).toEqual({ vip: 1, signups: 1, members: [profileId] });

    // Both are deleted (their member rows with them) and defined again so that the profile is in neither; the
    // rebuilds have not reached it yet.
    await remove("/v1/audiences/vip");
    await remove("/v1/computed-traits/signups");
    const vipB = await define("/v1/audiences", "vip", { event: "Order Completed" });
    const signupsB = await define("/v1/computed-traits", "signups", { op: "count", event: "Order Completed" });
    expect([vipB.created_at, signupsB.created_at]).not.toContain(vipA.created_at);
    expect([vipB.created_at, signupsB.created_at]).not.toContain(signupsA.created_at);

    // The queue is back: the object's retry delivers the changes it evaluated under the first definitions.
    refused.mockRestore();
    await runDurableObjectAlarm(env.PROFILE.getByName(profileId));
    expect((await outboxStateOf(profileId)).outbox).toBe(0);
    expect(await shown()).toEqual({ vip: 0, signups: 0, members: [] });

    // The rebuild reaches the profile: it leaves what it held under the first definitions, and stays out.
    const { buildVersion } = backfills.at(-1) as BackfillMessage;
    const at = { workspaceId: ws.workspaceId, definitionsVersion: buildVersion };
    expect(await profileStub(env.PROFILE, profileId).reevaluate(at)).toEqual({ status: "evaluated" });
    await outboxDelivered(profileId);
    expect((await profileOf(profileId)).audiences).toEqual([]);
    expect(await shown()).toEqual({ vip: 0, signups: 0, members: [] });
  });

  it("is not written to the new definition when a request delivers the profile's hand-off late", async () => {
    const { define, remove, shown, workspaceId } = await workspace();
    await define("/v1/audiences", "vip", { event: "Signed Up" });
    const profileId = `prf_${crypto.randomUUID()}`;
    const late = await handedOff(workspaceId, profileId, "Signed Up");
    await remove("/v1/audiences/vip");
    await define("/v1/audiences", "vip", { event: "Order Completed" });
    await changeSinkFor(env).deliver(workspaceId, [late]);
    expect(await shown()).toEqual({ vip: 0, members: [], signups: undefined });
  });

  it("names the definition each change was evaluated under: the old one's when leaving it, the new one's when entering", async () => {
    const { define, remove, shown, workspaceId } = await workspace();
    const vipA = Date.parse((await define("/v1/audiences", "vip", { event: "Signed Up" })).created_at);
    const signups = Date.parse(
      (await define("/v1/computed-traits", "signups", { op: "count", event: "Signed Up" })).created_at,
    );
    const profileId = `prf_${crypto.randomUUID()}`;
    const named = (c: MemberChange) => [c.kind, c.key, c.member, c.definitionCreatedAt];
    const first = await handedOff(workspaceId, profileId, "Signed Up");
    expect(first.members.map(named)).toEqual([
      ["computed_trait", "signups", true, signups],
      ["audience", "vip", true, vipA],
    ]);
    // The audience is deleted and defined again (the profile qualifies for both), the trait only deleted.
    await remove("/v1/audiences/vip");
    await remove("/v1/computed-traits/signups");
    const vipB = Date.parse((await define("/v1/audiences", "vip", { event: "Signed Up" })).created_at);
    expect(vipB).not.toBe(vipA);
    // The next write adopts the new definitions. (Its hand-off starts with the first's rows, unless the object's
    // backstop alarm delivered those meanwhile.)
    const handoff = await handedOff(workspaceId, profileId, "Page Viewed");
    expect(handoff.members.slice(-3).map(named)).toEqual([
      ["audience", "vip", false, vipA],
      ["computed_trait", "signups", false, signups],
      ["audience", "vip", true, vipB],
    ]);
    await changeSinkFor(env).deliver(workspaceId, [first, handoff]);
    expect(await shown()).toEqual({ vip: 1, members: [profileId], signups: undefined });
  });
});
