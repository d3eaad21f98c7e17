/**
 * The `destinations` step of a GDPR erase (DESIGN §12: the job is retried until every destination is done). The
 * first run writes which destinations are to delete the person (every one of the workspace: a disabled destination's
 * vendor may hold them from before, so its delete waits in its object until it is enabled again, or the destination
 * is deleted) and hands the delete to each destination's object, which keeps it durably, retries the vendor call and
 * reports its vendor's answer (`Drain.settle`). Later runs read the answers: the step is done once every destination
 * deleted the person, never held them, or no longer exists. Until then each run hands the delete again to every
 * destination that has not confirmed it — a no-op for a delete still waiting or retrying in the object, a new attempt
 * for one that was dead-lettered — and says which destinations the job waits for, and why.
 *
 * Not through the sync queue: one delete carries every identifier of the person — 1,000 of up to 512 characters
 * under the default cap (DESIGN §4), several times the 128 KB a queue message holds. A Durable Object call carries
 * 32 MiB, and one delete per destination keeps its answer the answer about the whole person.
 */
import type { Identifier, SyncDeleteMessage } from "@tessera/protocol";
import {
  type DeletionRow,
  type DestinationDelete,
  destinationDeletes,
  expectDestinationDeletes,
  recordDestinationsQueued,
} from "../../d1/queries/deletions";
import { type DestinationRow, findDestinationById, listDestinations } from "../../d1/queries/destinations";
import { destinationStub, route } from "../sync/consumer";

/** How long after queueing, or after a look that found deletes still waiting, the job looks again. */
export const CONFIRM_POLL_MS = 30_000;
/**
 * How long the job waits between looks when it waits only for disabled destinations: nothing changes until someone
 * enables or deletes one, which brings the job forward itself (`wakeDeletionsWaitingOn`). Polling every 30 s would
 * put every such job ahead of newer ones in the cron's few runs a minute, for as long as the destination stays off.
 */
export const DISABLED_POLL_MS = 3_600_000;

/**
 * Where the step stands: done, or waiting — `failed` when a destination dead-lettered its delete — until `pollMs`
 * from now.
 */
export type DestinationsProgress =
  | { done: true }
  | { done: false; failed: boolean; reason: string | null; pollMs: number };

/**
 * Advances the destinations step of `row`, whose graph step erased `profileIds` and `identifiers`.
 *
 * @example const progress = await deleteAtDestinations(env, row, ["prf_…"], identifiers); // { done: false, … }
 */
export async function deleteAtDestinations(
  env: Env,
  row: DeletionRow,
  profileIds: string[],
  identifiers: Identifier[],
): Promise<DestinationsProgress> {
  const message: SyncDeleteMessage = { kind: "delete", workspaceId: row.workspaceId, profileIds, identifiers };
  if (row.destinationsQueuedAt === null) {
    const expected = await listDestinations(env.DB, row.workspaceId);
    const now = Date.now();
    // Written before the deletes are handed out: a destination's answer can come before their record.
    await expectDestinationDeletes(
      env.DB,
      row.id,
      profileIds[0],
      expected.map((d) => d.id),
      now,
    );
    for (const d of expected) await handTo(env, d, message);
    // A crash before this record hands the deletes again: harmless, a vendor deletes once.
    await recordDestinationsQueued(env.DB, row.id, now, now + CONFIRM_POLL_MS);
    return expected.length === 0
      ? { done: true }
      : { done: false, failed: false, reason: null, pollMs: CONFIRM_POLL_MS };
  }
  const open = (await destinationDeletes(env.DB, row.id)).filter((d) => d.status !== "ok" && d.type !== null);
  if (open.length === 0) return { done: true };
  for (const d of open) await handAgain(env, d.destinationId, message);
  const reasons = open.map(describe).filter((r) => r !== null);
  const onlyDisabled = open.every((d) => d.enabled === false && d.status !== "failed");
  return {
    done: false,
    failed: open.some((d) => d.status === "failed"),
    reason: reasons.length > 0 ? reasons.join("; ") : null,
    pollMs: onlyDisabled ? DISABLED_POLL_MS : CONFIRM_POLL_MS,
  };
}

/** Hands the delete to destination `id`'s object, as the sync consumer routes it. */
async function handAgain(env: Env, id: string, message: SyncDeleteMessage): Promise<void> {
  const destination = await findDestinationById(env.DB, id);
  if (destination) await handTo(env, destination, message);
}

/** Hands the delete to `destination`'s object; a disabled one keeps it queued until it is enabled again. */
async function handTo(env: Env, destination: DestinationRow, message: SyncDeleteMessage): Promise<void> {
  const ops = route(message, [destination]).map((r) => r.op);
  await destinationStub(env, destination.id).enqueue(destination.id, ops);
}

/** Why the job still waits for destination `d`; null when its delete is merely on its way. */
function describe(d: DestinationDelete): string | null {
  const who = `destination ${d.destinationId} (${d.type})`;
  if (d.status === "failed") return `${who}: its delete was dead-lettered (${d.error}); handed to it again`;
  if (d.enabled === false) return `${who} is disabled: its delete waits until it is enabled again (or deleted)`;
  return d.error === null ? null : `${who}: ${d.error}`;
}
