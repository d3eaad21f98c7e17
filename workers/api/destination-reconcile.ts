/**
 * `POST /v1/destinations/:id/reconcile` (DESIGN §7): the same drift repair the cron runs every minute (see
 * `sync/reconcile.ts`), started now and resumable by cursor: members the vendor lacks are queued as entries, profiles
 * it still lists after they left are queued as exits.
 */
import type { ReconcileStarted } from "@tessera/protocol";
import type { DestinationRow } from "../../d1/queries/destinations";
import { validationError } from "../shared/errors";
import { destinationStub } from "../sync/consumer";
import { decodePosition } from "../sync/reconcile";

/** Rows (intended and synced members) examined per call at most: the rest is for the next call, by cursor. */
export const MAX_RECONCILE_MEMBERS = 5_000;

/**
 * Repairs `row`'s drift from `cursor` on (the start when undefined), up to {@link MAX_RECONCILE_MEMBERS} rows; the
 * answer's cursor resumes where the cap stopped it.
 *
 * @example const started = await reconcileDestination(env, row); // { status: "started", queued: 2, cursor: … }
 */
export async function reconcileDestination(env: Env, row: DestinationRow, cursor?: string): Promise<ReconcileStarted> {
  if (cursor !== undefined && !decodePosition(cursor, JSON.parse(row.audiences) as string[])) {
    throw validationError(
      "cursor is not one this destination's reconciliation issued (or its audiences changed): pass cursor.next " +
        "from the previous answer, or none to start over",
    );
  }
  // Someone asked: members the vendor refused for good are sent again too (the cron's own ticks leave them).
  const { queued, next } = await destinationStub(env, row.id).reconcile(row.id, cursor, MAX_RECONCILE_MEMBERS, {
    retryRefused: true,
  });
  return { status: "started", queued, cursor: { has_more: next !== null, next } };
}
