/** The single `profile_meta` row: identity, lifecycle status and counters of one ProfileDO. */
import type { Identifier } from "@tessera/protocol";

/** Where a profile stands. `missing` means the object never received anything. */
export type ProfileStatus =
  | { kind: "missing" }
  | { kind: "active"; meta: ProfileMeta }
  | { kind: "redirect"; to: string; foldPending: boolean; meta: ProfileMeta }
  | { kind: "deleted" };

/** Counters and identity of a live (or tombstoned, not yet emptied) profile; times are epoch ms. */
export interface ProfileMeta {
  profileId: string | null;
  workspaceId: string | null;
  createdAt: number;
  updatedAt: number;
  firstSeen: number | null;
  lastSeen: number | null;
  eventCount: number;
  /** When a merge undo made this merged-away profile live again (null: never). */
  restoredAt: number | null;
  /** Identifiers a merge undo moved off this profile (see `departed.ts`); empty nearly always. */
  departed: Identifier[];
}

interface MetaRow extends Record<string, SqlStorageValue> {
  status: string;
  profile_id: string | null;
  workspace_id: string | null;
  created_at: number | null;
  updated_at: number;
  first_seen: number | null;
  last_seen: number | null;
  event_count: number;
  redirect_to: string | null;
  fold_pending: number;
  restored_at: number | null;
  departed: string | null;
}

/** Reads the object's status: one single-row lookup, done at the start of every RPC. */
export function readStatus(sql: SqlStorage): ProfileStatus {
  const row = sql.exec<MetaRow>("SELECT * FROM profile_meta WHERE singleton = 1").toArray()[0];
  if (!row) return { kind: "missing" };
  if (row.status === "deleted") return { kind: "deleted" };
  const meta: ProfileMeta = {
    profileId: row.profile_id,
    workspaceId: row.workspace_id,
    createdAt: row.created_at ?? row.updated_at,
    updatedAt: row.updated_at,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    eventCount: row.event_count,
    restoredAt: row.restored_at ?? null,
    departed: row.departed ? (JSON.parse(row.departed) as Identifier[]) : [],
  };
  if (row.status === "redirect") {
    return { kind: "redirect", to: row.redirect_to as string, foldPending: row.fold_pending === 1, meta };
  }
  return { kind: "active", meta };
}

/** Creates the row of a profile on its first write. */
export function createActive(sql: SqlStorage, profileId: string, workspaceId: string | null, createdAt: number): void {
  sql.exec(
    `INSERT INTO profile_meta (singleton, status, profile_id, workspace_id, created_at, updated_at)
     VALUES (1, 'active', ?, ?, ?, ?)`,
    profileId,
    workspaceId,
    createdAt,
    createdAt,
  );
}

/** What one write added: folded into the counters in a single UPDATE. */
export interface MetaDelta {
  inserted: number;
  minTs: number | null;
  maxTs: number | null;
  createdAt?: number;
  now: number;
}

/** Bumps counters and times; min/max keep first_seen/last_seen and created_at monotone. */
export function applyDelta(sql: SqlStorage, d: MetaDelta): void {
  sql.exec(
    `UPDATE profile_meta SET
       event_count = event_count + ?1,
       first_seen  = CASE WHEN ?2 IS NULL THEN first_seen WHEN first_seen IS NULL THEN ?2 ELSE min(first_seen, ?2) END,
       last_seen   = CASE WHEN ?3 IS NULL THEN last_seen  WHEN last_seen  IS NULL THEN ?3 ELSE max(last_seen, ?3) END,
       created_at  = CASE WHEN ?4 IS NULL THEN created_at ELSE min(created_at, ?4) END,
       updated_at  = ?5
     WHERE singleton = 1`,
    d.inserted,
    d.minTs,
    d.maxTs,
    d.createdAt ?? null,
    d.now,
  );
}

/** Marks the profile merged away: from now on every call answers with a redirect to `to`. */
/**
 * The tombstone of a merged-away profile. Never over a GDPR marker: a merge whose call awaited I/O while an erase ran
 * (the object serves other calls meanwhile) must not bring back a profile the erase emptied.
 */
export function markRedirect(sql: SqlStorage, to: string, foldPending: boolean, now: number): void {
  sql.exec(
    `INSERT INTO profile_meta (singleton, status, redirect_to, fold_pending, updated_at)
     VALUES (1, 'redirect', ?1, ?2, ?3)
     ON CONFLICT (singleton) DO UPDATE SET status = 'redirect', redirect_to = ?1, fold_pending = ?2, updated_at = ?3
     WHERE profile_meta.status <> 'deleted'`,
    to,
    foldPending ? 1 : 0,
    now,
  );
}

/** The GDPR marker: written into an emptied database, it carries nothing about the person. */
export function markDeleted(sql: SqlStorage, now: number): void {
  sql.exec("INSERT INTO profile_meta (singleton, status, updated_at) VALUES (1, 'deleted', ?)", now);
}

/** Counters and times recomputed from the event log, after a merge undo took events away or brought them back. */
export function recount(sql: SqlStorage, now: number): void {
  sql.exec(
    `UPDATE profile_meta SET event_count = (SELECT count(*) FROM events), first_seen = (SELECT min(ts) FROM events),
       last_seen = (SELECT max(ts) FROM events), updated_at = ? WHERE singleton = 1`,
    now,
  );
}

/**
 * Makes a merged-away profile live again (merge undo), keeping its own id, workspace and creation time. A late fold
 * it had pending is cancelled: what it would ship is what the undo brings back.
 */
export function markRestored(
  sql: SqlStorage,
  self: { profileId: string; workspaceId: string; createdAt: number },
  now: number,
): void {
  sql.exec(
    `INSERT INTO profile_meta (singleton, status, profile_id, workspace_id, created_at, updated_at, restored_at)
     VALUES (1, 'active', ?1, ?2, ?3, ?4, ?4)
     ON CONFLICT (singleton) DO UPDATE SET status = 'active', profile_id = ?1, workspace_id = ?2, created_at = ?3,
       updated_at = ?4, restored_at = ?4, redirect_to = NULL, fold_pending = 0`,
    self.profileId,
    self.workspaceId,
    self.createdAt,
    now,
  );
}
