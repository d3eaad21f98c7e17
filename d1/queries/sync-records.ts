/**
 * What the sync engine records per destination (DESIGN §7): the sync log, dead letters (replayable), the vendor ids
 * of synced contacts, and the destination's delivery counters.
 */
import { and, asc, count, desc, eq, gt, inArray, isNull, lt, ne, sql } from "drizzle-orm";
import { inJsonList, orm } from "../client";
import { audienceMembers, deletionDestinations, destinations, syncDeadLetters, syncLog, vendorIds } from "../schema";

export type SyncLogRow = typeof syncLog.$inferSelect;
export type NewSyncLogRow = typeof syncLog.$inferInsert;
export type DeadLetterRow = typeof syncDeadLetters.$inferSelect;

/** What one drain of a destination did, written in one D1 batch. */
export interface DrainRecord {
  log: NewSyncLogRow[];
  deadLetters: Array<{ profileId: string; op: string; error: string }>;
  vendorIds: Array<{ email: string; vendorId: string }>;
  /** Emails whose remembered vendor id the vendor no longer knows (merged or deleted there): looked up afresh next time. */
  staleVendorIds: string[];
  /** How the GDPR deletes of this drain stand, by the profile each names (the erase jobs wait for them). */
  erasures: Array<{ profileId: string; status: "pending" | "ok" | "failed"; error: string | null }>;
  delivered: number;
  failed: number;
  /** Items settled without a vendor call (see `destinations.skipped`). */
  skipped: number;
  lastError: string | null;
  at: number;
}

/** A drain that has done nothing yet, at `at`. */
export function emptyDrainRecord(at: number): DrainRecord {
  return {
    log: [],
    deadLetters: [],
    vendorIds: [],
    staleVendorIds: [],
    erasures: [],
    delivered: 0,
    failed: 0,
    skipped: 0,
    lastError: null,
    at,
  };
}

/** Writes a drain's log, dead letters, vendor ids and counters in one batch (D1 caps bound parameters per call). */
export async function recordDrain(db: D1Database, destinationId: string, r: DrainRecord): Promise<void> {
  const d = orm(db);
  const statements = [
    ...chunk(r.log, 10).map((rows) => d.insert(syncLog).values(rows)),
    ...chunk(r.deadLetters, 10).map((rows) =>
      d.insert(syncDeadLetters).values(rows.map((x) => ({ ...x, destinationId, createdAt: r.at }))),
    ),
    ...chunk(r.vendorIds, 20).map((rows) =>
      d
        .insert(vendorIds)
        .values(rows.map((x) => ({ ...x, destinationId })))
        .onConflictDoUpdate({
          target: [vendorIds.destinationId, vendorIds.email],
          set: { vendorId: sql`excluded.vendor_id` },
        }),
    ),
    ...chunk(r.staleVendorIds, 50).map((emails) =>
      d.delete(vendorIds).where(and(eq(vendorIds.destinationId, destinationId), inArray(vendorIds.email, emails))),
    ),
    ...r.erasures.map((e) =>
      d
        .update(deletionDestinations)
        .set({ status: e.status, error: e.error?.slice(0, 1000) ?? null, updatedAt: r.at })
        .where(
          and(eq(deletionDestinations.profileId, e.profileId), eq(deletionDestinations.destinationId, destinationId)),
        ),
    ),
    d
      .update(destinations)
      .set({
        delivered: sql`${destinations.delivered} + ${r.delivered}`,
        failed: sql`${destinations.failed} + ${r.failed}`,
        skipped: sql`${destinations.skipped} + ${r.skipped}`,
        ...(r.delivered > 0 ? { lastSuccessAt: r.at } : {}),
        // `last_error` is the current problem, not the first one ever: a drain that delivered and met none ends it
        // (the sync log keeps every error). One that met an error keeps it even if other items went through.
        ...(r.lastError !== null
          ? { lastError: r.lastError, lastErrorAt: r.at }
          : r.delivered > 0
            ? { lastError: null, lastErrorAt: null }
            : {}),
      })
      .where(eq(destinations.id, destinationId)),
  ];
  const [first, ...rest] = statements;
  await d.batch([first, ...rest]);
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Vendor ids known for these emails (one destination). */
export async function findVendorIds(
  db: D1Database,
  destinationId: string,
  emails: string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  // D1 binds at most 100 parameters per query, and a chunk of a vendor's batch holds up to 1,000 emails.
  for (const part of chunk(emails, 90)) {
    const rows = await orm(db)
      .select({ email: vendorIds.email, vendorId: vendorIds.vendorId })
      .from(vendorIds)
      .where(and(eq(vendorIds.destinationId, destinationId), inArray(vendorIds.email, part)));
    for (const r of rows) found.set(r.email, r.vendorId);
  }
  return found;
}

/** The email a vendor id was synced for (engagement polled by vendor id: Marketo lead ids, HubSpot record ids). */
export async function emailForVendorId(
  db: D1Database,
  destinationId: string,
  vendorId: string,
): Promise<string | undefined> {
  const row = await orm(db)
    .select({ email: vendorIds.email })
    .from(vendorIds)
    .where(and(eq(vendorIds.destinationId, destinationId), eq(vendorIds.vendorId, vendorId)))
    .get();
  return row?.email;
}

/**
 * One page of the sync log, newest first, optionally for one profile (or any of several: a survivor and the profiles
 * merged into it); `before` is the last id of the previous page.
 */
export function listSyncLog(
  db: D1Database,
  destinationId: string,
  page: { profileId?: string | readonly string[]; before?: number; limit: number },
): Promise<SyncLogRow[]> {
  const where = [eq(syncLog.destinationId, destinationId)];
  if (typeof page.profileId === "string") where.push(eq(syncLog.profileId, page.profileId));
  // A profile can have had many merged into it: one bound JSON list, not a parameter each (D1 binds at most 100).
  else if (page.profileId !== undefined) where.push(inJsonList(syncLog.profileId, page.profileId));
  if (page.before !== undefined) where.push(lt(syncLog.id, page.before));
  return orm(db)
    .select()
    .from(syncLog)
    .where(and(...where))
    .orderBy(desc(syncLog.id))
    .limit(page.limit + 1);
}

/**
 * Dead letters not yet replayed, newest first, at most `limit`; `before`: only those older than that id (the last of
 * the previous page).
 */
export function listDeadLetters(
  db: D1Database,
  destinationId: string,
  limit = 1000,
  before?: number,
): Promise<DeadLetterRow[]> {
  return orm(db)
    .select()
    .from(syncDeadLetters)
    .where(
      and(
        eq(syncDeadLetters.destinationId, destinationId),
        isNull(syncDeadLetters.replayedAt),
        before === undefined ? undefined : lt(syncDeadLetters.id, before),
      ),
    )
    .orderBy(desc(syncDeadLetters.id))
    .limit(limit);
}

export async function countDeadLetters(db: D1Database, destinationId: string): Promise<number> {
  const row = await orm(db)
    .select({ n: count() })
    .from(syncDeadLetters)
    .where(and(eq(syncDeadLetters.destinationId, destinationId), isNull(syncDeadLetters.replayedAt)))
    .get();
  return row?.n ?? 0;
}

/** Marks dead letters replayed (after their operations were queued again). */
export async function markReplayed(db: D1Database, ids: number[], at: number): Promise<void> {
  for (const part of chunk(ids, 50)) {
    await orm(db).update(syncDeadLetters).set({ replayedAt: at }).where(inArray(syncDeadLetters.id, part)).run();
  }
}

/** Saves where a destination's engagement poller got to. */
export async function savePollCursor(db: D1Database, destinationId: string, cursor: string): Promise<void> {
  await orm(db).update(destinations).set({ pollCursor: cursor }).where(eq(destinations.id, destinationId)).run();
}

/** Enabled destinations of the given types, across workspaces, by id: what the poller cron visits. */
export function polledDestinations(db: D1Database, types: readonly string[]): Promise<Array<{ id: string }>> {
  if (types.length === 0) return Promise.resolve([]);
  return orm(db)
    .select({ id: destinations.id })
    .from(destinations)
    .where(and(inArray(destinations.type, [...types]), eq(destinations.enabled, true)))
    .orderBy(destinations.id);
}

/**
 * One page of an audience's intended members for reconciliation, in profile-id order after `after`, with the `seq`
 * of each entry (`limit` + 1 rows, to tell whether more follow). Keyset paging over the table's primary key.
 */
export function intendedMembers(
  db: D1Database,
  workspaceId: string,
  audience: string,
  page: { after?: string; limit: number },
): Promise<Array<{ profileId: string; seq: number }>> {
  const where = [eq(audienceMembers.workspaceId, workspaceId), eq(audienceMembers.audience, audience)];
  if (page.after !== undefined) where.push(gt(audienceMembers.profileId, page.after));
  return orm(db)
    .select({ profileId: audienceMembers.profileId, seq: audienceMembers.seq })
    .from(audienceMembers)
    .where(and(...where))
    .orderBy(asc(audienceMembers.profileId))
    .limit(page.limit + 1);
}

/**
 * Deletes what the sync log of `workspaceId`'s destinations says about GDPR-erased profiles, but for the erase's own
 * deletes (the record that each vendor was asked, and answered): a vendor's answer may name the person's email
 * ("… looks fake or invalid"), and the log is otherwise kept for the operations retention.
 */
export function deleteSyncLogOfProfiles(db: D1Database, workspaceId: string, profileIds: readonly string[]) {
  const d = orm(db);
  return d
    .delete(syncLog)
    .where(
      and(
        inArray(
          syncLog.destinationId,
          d.select({ id: destinations.id }).from(destinations).where(eq(destinations.workspaceId, workspaceId)),
        ),
        inJsonList(syncLog.profileId, profileIds),
        ne(syncLog.action, "delete"),
      ),
    );
}

/**
 * Deletes the sync dead letters of GDPR-erased profiles (each holds the email and traits it was to send; a profile id
 * belongs to one workspace). A dead-lettered delete stays unless `deletes` is set: until every destination has
 * deleted the person, the erase job shows it and hands the delete to its destination again; once they all have, it
 * goes too (it holds the person's identifiers).
 */
export function deleteSyncDeadLettersOfProfiles(
  db: D1Database,
  profileIds: readonly string[],
  options: { deletes?: boolean } = {},
) {
  return orm(db)
    .delete(syncDeadLetters)
    .where(
      and(
        inJsonList(syncDeadLetters.profileId, profileIds),
        options.deletes ? undefined : sql`json_extract(${syncDeadLetters.op}, '$.kind') IS NOT 'delete'`,
      ),
    );
}
