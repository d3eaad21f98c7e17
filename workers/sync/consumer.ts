/**
 * Consumer of `tessera-sync` (DESIGN §7): turns each membership change and GDPR delete of a workspace into
 * operations for every enabled destination that wants it, and hands them to that destination's Durable Object,
 * which coalesces, paces and sends them. A message is acknowledged once every destination's object has it durably.
 */
import { MembershipChange, MembershipChanges, SyncDeleteMessage, unpackMembershipChanges } from "@tessera/protocol";
import { z } from "zod";
import { type DestinationRow, enabledDestinations } from "../../d1/queries/destinations";
import { isolateCache } from "../shared/isolate-cache";
import { QUEUE } from "../shared/queues";
import type { DestinationRpc } from "./destination-do";
import { contactEmail, type SyncOp, selectedTraits } from "./sync-op";

// One `MembershipChange` per message is what profiles sent before they packed a delivery's changes into one
// `MembershipChanges`; still read, for messages queued across that deploy. Likewise a `SyncDeleteMessage`: the erase
// job now hands its deletes to the destinations' objects itself (`workers/erase/destination-deletes.ts`).
const SyncMessage = z.discriminatedUnion("kind", [MembershipChanges, MembershipChange, SyncDeleteMessage]);
type SyncMessage = z.infer<typeof SyncMessage>;

/** A destination's audiences and traits change rarely: each isolate trusts D1's answer this long. */
const DESTINATIONS_CACHE_MS = 2_000;

const destinationsOf = isolateCache((workspaceId, db: D1Database) => enabledDestinations(db, workspaceId), {
  ttlMs: DESTINATIONS_CACHE_MS,
});

/** Forget this isolate's destinations of a workspace (after a change through the API). */
export function forgetDestinations(workspaceId: string): void {
  destinationsOf.delete(workspaceId);
}

/** The stub of destination `id`'s object. */
export function destinationStub(env: Env, id: string): DestinationRpc {
  return env.DESTINATION.getByName(id) as unknown as DestinationRpc;
}

/**
 * Seconds a message that could not be handed over waits before its next try: doubling from 10 s, up to a minute on
 * `tessera-sync` (a blip must not hold a change back long) and an hour on `tessera-sync-dlq`, whose 100 tries then
 * outlast about four days of D1 or the objects being down. The queue drops a message after its last try: a fixed 5 s
 * gave the two queues together about nine minutes.
 */
export function syncRetryDelaySeconds(queue: string, attempts: number): number {
  return Math.min(queue === QUEUE.syncDeadLetter ? 3600 : 60, 5 * 2 ** Math.max(1, attempts));
}

export async function handleSync(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const later = (msg: Message<unknown>) => ({ delaySeconds: syncRetryDelaySeconds(batch.queue, msg.attempts) });
  const perDestination = new Map<string, { ops: SyncOp[]; messages: Message<unknown>[] }>();
  for (const msg of batch.messages) {
    const parsed = SyncMessage.safeParse(msg.body);
    if (!parsed.success) {
      // A shape this code does not know (a newer deploy rolled back): kept, not dropped.
      console.error("sync: unreadable message", msg.id, parsed.error.issues[0]?.message);
      msg.retry({ delaySeconds: Math.max(60, later(msg).delaySeconds) });
      continue;
    }
    let destinations: DestinationRow[];
    try {
      destinations = (await destinationsOf.fetch(parsed.data.workspaceId, { context: env.DB })) ?? [];
    } catch (err) {
      console.error("sync: destinations unavailable; retrying", err);
      msg.retry(later(msg));
      continue;
    }
    const routed = route(parsed.data, destinations);
    if (routed.length === 0) msg.ack();
    for (const { destinationId, op } of routed) {
      const group = perDestination.get(destinationId) ?? { ops: [], messages: [] };
      group.ops.push(op);
      if (!group.messages.includes(msg)) group.messages.push(msg);
      perDestination.set(destinationId, group);
    }
  }
  // A message that reached several destinations is acknowledged only when all of them took it.
  const failed = new Set<Message<unknown>>();
  await Promise.all(
    [...perDestination].map(async ([destinationId, group]) => {
      try {
        await destinationStub(env, destinationId).enqueue(destinationId, group.ops);
      } catch (err) {
        console.error(`sync: destination ${destinationId} did not take its operations; retrying`, err);
        for (const m of group.messages) failed.add(m);
      }
    }),
  );
  for (const group of perDestination.values()) {
    for (const m of group.messages) {
      if (failed.has(m)) m.retry(later(m));
      else m.ack();
    }
  }
}

/** The operations one message means for each destination. */
export function route(
  message: SyncMessage,
  destinations: DestinationRow[],
): Array<{ destinationId: string; op: SyncOp }> {
  if (message.kind === "memberships")
    return unpackMembershipChanges(message).flatMap((change) => route(change, destinations));
  const out: Array<{ destinationId: string; op: SyncOp }> = [];
  if (message.kind === "delete") {
    // One delete per destination: it carries every identifier (the plugin deletes each email and vendor id the person
    // had) and every profile erased with the person (merged into it), each of which the destination forgets.
    const [profileId, ...mergedProfileIds] = message.profileIds;
    for (const d of destinations) {
      const op: SyncOp = { kind: "delete", profileId, identifiers: message.identifiers };
      if (mergedProfileIds.length > 0) op.mergedProfileIds = mergedProfileIds;
      out.push({ destinationId: d.id, op });
    }
    return out;
  }
  const email = contactEmail(message.identifiers, message.traits);
  for (const d of destinations) {
    const audiences = JSON.parse(d.audiences) as string[];
    if (!audiences.includes(message.audience)) continue;
    const traits = selectedTraits(JSON.parse(d.traits) as string[], message.traits, message.computed);
    const op: SyncOp = {
      kind: "membership",
      profileId: message.profileId,
      audience: message.audience,
      member: message.member,
      seq: message.seq,
      at: message.at,
      traits,
      profile: {
        id: message.profileId,
        identifiers: message.identifiers,
        traits: message.traits,
        computed: message.computed,
      },
    };
    if (email) op.email = email;
    if (message.definitionCreatedAt !== undefined) op.definitionCreatedAt = message.definitionCreatedAt;
    out.push({ destinationId: d.id, op });
  }
  return out;
}
