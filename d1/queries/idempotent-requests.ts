/** The stored answers of calls sent with an `Idempotency-Key` (`workers/api/idempotency.ts`). */
import { and, eq, isNull, lt, sql } from "drizzle-orm";
import { orm } from "../client";
import { idempotentRequests } from "../schema";

export type IdempotentRequest = typeof idempotentRequests.$inferSelect;

/** The call a key names: its workspace, the key, and what the call was (method, path, body hash). */
export interface IdempotentCall {
  workspaceId: string;
  key: string;
  fingerprint: string;
}

/** An answer worth giving again: what the first call answered. */
export interface StoredAnswer {
  status: number;
  contentType: string | null;
  body: string;
}

/**
 * Claims `call`'s key for a call starting at `now`, in one round trip: `claimed` when no call holds it, or when the
 * same call holds it unanswered since before `abandonedBefore` (its isolate died mid-call: it will never answer, and
 * the call may run again). Otherwise the row that holds it, for the caller to replay or refuse.
 *
 * @example const claim = await claimIdempotencyKey(env.DB, call, Date.now(), Date.now() - 60_000);
 */
export async function claimIdempotencyKey(
  db: D1Database,
  call: IdempotentCall,
  now: number,
  abandonedBefore: number,
): Promise<{ claimed: true } | { claimed: false; held: IdempotentRequest }> {
  const d = orm(db);
  const [claimed, held] = await d.batch([
    d
      .insert(idempotentRequests)
      .values({ ...call, startedAt: now })
      .onConflictDoUpdate({
        target: [idempotentRequests.workspaceId, idempotentRequests.key],
        set: { startedAt: now },
        setWhere: and(
          isNull(idempotentRequests.status),
          lt(idempotentRequests.startedAt, abandonedBefore),
          eq(idempotentRequests.fingerprint, sql`excluded.fingerprint`),
        ),
      })
      .returning({ startedAt: idempotentRequests.startedAt }),
    d.select().from(idempotentRequests).where(keyOf(call)),
  ]);
  if (claimed.length > 0) return { claimed: true };
  // The batch is one transaction: a key the insert did not take is held by the row the select read.
  return { claimed: false, held: held[0] as IdempotentRequest };
}

/** Stores the answer of the call that claimed `call`'s key at `startedAt` (one that took over keeps it instead). */
export async function storeIdempotentAnswer(
  db: D1Database,
  call: IdempotentCall,
  startedAt: number,
  answer: StoredAnswer,
): Promise<void> {
  await orm(db)
    .update(idempotentRequests)
    .set(answer)
    .where(and(keyOf(call), eq(idempotentRequests.startedAt, startedAt), isNull(idempotentRequests.status)));
}

/** Frees the key the call that claimed it at `startedAt` holds, unanswered: the same call sent again runs again. */
export async function releaseIdempotencyKey(db: D1Database, call: IdempotentCall, startedAt: number): Promise<void> {
  await orm(db)
    .delete(idempotentRequests)
    .where(and(keyOf(call), eq(idempotentRequests.startedAt, startedAt), isNull(idempotentRequests.status)));
}

const keyOf = (call: IdempotentCall) =>
  and(eq(idempotentRequests.workspaceId, call.workspaceId), eq(idempotentRequests.key, call.key));
