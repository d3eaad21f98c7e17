/**
 * A MAP destination whose vendor is a recording fake: the real `marketo` plugin's limits (300 per batch) and the
 * engine's whole path (queue, coalescing, chunking, outcomes, sync log), with the plugin's three vendor calls
 * replaced by fakes that record what the engine asked and answer `ok` (lead id `lead:<email>`), unless a test makes
 * them throw. Restore with `vi.restoreAllMocks()`.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { destinationStub } from "../sync/consumer";
import { marketo } from "../sync/destinations/marketo";
import type { ContactUpsert, MembershipOp, Outcome } from "../sync/plugin";
import type { MembershipSyncOp } from "../sync/sync-op";
import { eventually, insertDestination } from "./destinations";
import { seedWorkspace } from "./seed";

export interface RecordingVendor {
  workspaceId: string;
  destinationId: string;
  /** Each upsert call's contacts, by email. */
  upserts: string[][];
  /** Each list call: the list key and its items as `+email` (add) or `-email` (remove). */
  listCalls: Array<{ list: string; items: string[] }>;
  /** Queues operations straight into the destination's object, as the sync consumer does. */
  enqueue(ops: MembershipSyncOp[]): Promise<void>;
  /** Runs the destination's drain now (the runtime may also have run it by itself, as its alarm is due at once). */
  drain(): Promise<void>;
  /** Drains until nothing is pending. */
  drainAll(): Promise<void>;
}

const leadId = (email: string | undefined) => `lead:${email}`;

export async function recordingVendor(audiences: string[]): Promise<RecordingVendor> {
  const { workspaceId } = await seedWorkspace();
  const destinationId = await insertDestination(workspaceId, {
    type: "marketo",
    config: { base_url: "http://marketo.invalid", client_id: "id", client_secret: "secret", folder_id: 1 },
    audiences,
    traits: ["first_name"],
  });
  const vendor: RecordingVendor = {
    workspaceId,
    destinationId,
    upserts: [],
    listCalls: [],
    enqueue: async (ops) => {
      await destinationStub(env, destinationId).enqueue(destinationId, ops);
    },
    drain: async () => {
      await runDurableObjectAlarm(env.DESTINATION.getByName(destinationId));
    },
    drainAll: () =>
      eventually(async () => {
        await runDurableObjectAlarm(env.DESTINATION.getByName(destinationId));
        expect(await destinationStub(env, destinationId).pendingCount()).toBe(0);
      }),
  };
  vi.spyOn(marketo, "upsertContacts").mockImplementation(async (_ctx, items: ContactUpsert[]) => {
    vendor.upserts.push(items.map((i) => i.identity.email ?? ""));
    return items.map((i): Outcome => ({ status: "ok", vendorId: leadId(i.identity.email) }));
  });
  vi.spyOn(marketo, "applyMemberships").mockImplementation(async (_ctx, list, items: MembershipOp[]) => {
    vendor.listCalls.push({ list: list.key, items: items.map((i) => `${i.member ? "+" : "-"}${i.identity.email}`) });
    return items.map((): Outcome => ({ status: "ok" }));
  });
  vi.spyOn(marketo, "deleteContact").mockResolvedValue({ status: "ok" });
  return vendor;
}

/** A membership operation of `profileId` in `audience`, as the consumer routes it to a destination. */
export function membershipOp(
  profileId: string,
  audience: string,
  seq: number,
  opts: { member?: boolean; email?: string | null; traits?: Record<string, unknown> } = {},
): MembershipSyncOp {
  // `email: null`: a profile without one.
  const email = opts.email === null ? undefined : (opts.email ?? `${profileId}@example.com`);
  const traits = opts.traits ?? { first_name: "Ann" };
  return {
    kind: "membership",
    profileId,
    audience,
    member: opts.member ?? true,
    seq,
    at: new Date(1_700_000_000_000 + seq).toISOString(),
    email,
    traits,
    profile: { id: profileId, identifiers: email ? [{ type: "email", value: email }] : [], traits, computed: {} },
  };
}
