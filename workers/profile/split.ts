/**
 * Merge undo inside the profiles (DESIGN §12). Every event and identifier records the profile it arrived on
 * (`origin`), so the survivor can ship back what arrived on the merged-away profile (and the profiles merged into
 * that one before), the merged-away profile imports it and goes live again, and only then the survivor drops it.
 * Each step is keyed (messageId, identifier) and can run again after a crash: nothing is lost in between, at worst
 * shown on both sides for a moment.
 */
import type { Identifier } from "@tessera/protocol";
import { eventTime, insertEvent, readEventChunk } from "./event-log";
import { attachIdentifier, readIdentifiers } from "./identifier-set";
import { MERGE_CHUNK_BYTES, readMergedFrom } from "./merge";
import { markRestored, type ProfileMeta, recount } from "./profile-meta";
import type { OriginChunk, ProfileExport } from "./profile-rpc";
import { ensurePart, hasPart } from "./schema";
import { rebuildTraits } from "./traits";

const inList = "(SELECT value FROM json_each(?))";

/**
 * On the survivor: the events after `afterSeq` that arrived on one of `origins` (a chunk under the merge's size cap),
 * and with the first chunk the identifiers that did. Reads only. An empty chunk after the first means done.
 */
export function originChunk(
  sql: SqlStorage,
  meta: ProfileMeta,
  origins: readonly string[],
  afterSeq: number,
): Extract<OriginChunk, { status: "ok" }> {
  const { events, origins: eventOrigins, lastSeq } = readEventChunk(sql, afterSeq, MERGE_CHUNK_BYTES, origins);
  const wanted = new Set(origins);
  const identifiers =
    afterSeq === 0 ? readIdentifiers(sql).filter((id) => id.origin != null && wanted.has(id.origin)) : [];
  const chunk: ProfileExport = {
    profileId: meta.profileId as string,
    workspaceId: meta.workspaceId ?? undefined,
    createdAt: meta.createdAt,
    events,
    eventOrigins,
    traits: [],
    identifiers,
    mergedFrom: [],
  };
  return { status: "ok", chunk, lastSeq };
}

/** On the restored profile: imports one chunk the survivor shipped back. What arrived on `selfId` becomes its own. */
export function importOriginChunk(sql: SqlStorage, chunk: ProfileExport, selfId: string): void {
  const originOf = (origin: string | null | undefined) => (origin == null || origin === selfId ? null : origin);
  // What arrived on other profiles keeps its origin here, for a later undo: those are read by the origin index.
  ensurePart(sql, "merges");
  for (const [i, message] of chunk.events.entries()) {
    insertEvent(sql, message, eventTime(message), originOf(chunk.eventOrigins?.[i]));
  }
  for (const id of chunk.identifiers) attachIdentifier(sql, id, originOf(id.origin));
}

/**
 * On the restored profile, once everything came back: live again under its own id, with the profiles that had been
 * merged into it before, its traits recomputed from its own events, and its counters from its own log.
 */
export function finishRestore(
  sql: SqlStorage,
  self: { profileId: string; workspaceId: string; createdAt: number; mergedFrom: readonly string[] },
  now: number,
): void {
  markRestored(sql, self, now);
  ensurePart(sql, "merges");
  sql.exec(
    `INSERT INTO merged_from (profile_id) SELECT value FROM json_each(?) WHERE value <> ? ON CONFLICT DO NOTHING`,
    JSON.stringify(self.mergedFrom),
    self.profileId,
  );
  rebuildTraits(sql);
  recount(sql, now);
}

/** On the restored profile, after a catch-up imported what reached the survivor late: traits and counters again. */
export function catchUpCounters(sql: SqlStorage, now: number): void {
  rebuildTraits(sql);
  recount(sql, now);
}

/**
 * The survivor's record, in its KV, of what its folds lowered `created_at` from (a fold keeps the earlier of the two
 * profiles'): its own from before its first fold, and what each profile folded into it brought. Nothing reads it but
 * a merge undo ({@link createdAtWithoutUndone}).
 */
const OWN_CREATED_AT = "own-created-at";
const broughtCreatedAt = (profileId: string) => `folded-created-at:${profileId}`;

/**
 * On the survivor, with each chunk of a fold, in its transaction: `own` is this profile's `created_at` before the fold
 * (the fold's time when the fold created the object), kept from the first fold on. Writing it again changes nothing.
 */
export function recordFoldedCreation(
  kv: SyncKvStorage,
  folded: { profileId: string; createdAt: number },
  own: number,
): void {
  if (kv.get<number>(OWN_CREATED_AT) === undefined) kv.put(OWN_CREATED_AT, own);
  kv.put(broughtCreatedAt(folded.profileId), folded.createdAt);
}

/**
 * On the survivor, once {@link dropOrigins} split `origins` off: `created_at` as it would be without their merges, the
 * earliest of this profile's own and what each merge still standing brought. A profile folded in along with another
 * has no record of its own (the other's value covers it), so undoing a merge that was inside another changes nothing
 * here; nor does an undo on a profile whose folds predate the record (what it was before them is not known).
 */
export function createdAtWithoutUndone(sql: SqlStorage, kv: SyncKvStorage, origins: readonly string[]): void {
  let undone = false;
  for (const id of origins) if (kv.delete(broughtCreatedAt(id))) undone = true;
  const own = kv.get<number>(OWN_CREATED_AT);
  if (!undone || own === undefined) return;
  const standing = readMergedFrom(sql).flatMap((id) => kv.get<number>(broughtCreatedAt(id)) ?? []);
  sql.exec("UPDATE profile_meta SET created_at = ? WHERE singleton = 1", Math.min(own, ...standing));
}

/**
 * On the survivor, once the restored profile confirmed: what arrived on `origins` goes, up to `through` (the last
 * seq the restored profile read; 0 when it read elsewhere), and so do the identifiers the graph no longer gives this
 * profile (`elsewhere`, whichever profile they arrived on: one carried by both profiles' messages keeps the origin of
 * whichever reached this object first); the traits and counters are recomputed from what is left. An event that
 * arrived on `origins` after the mark (a message that followed the merged-away profile's redirect while the restore
 * ran) stays until the restored profile has it too: `left` counts those. On the restored profile, `elsewhere` alone:
 * what it took back that the graph keeps with another profile. Returns how many events went, and which identifiers.
 */
export function dropOrigins(
  sql: SqlStorage,
  origins: readonly string[],
  through: number,
  now: number,
  elsewhere: readonly Identifier[] = [],
): { events: number; identifiers: Identifier[]; left: number } {
  const list = JSON.stringify(origins);
  const events = sql
    .exec(`DELETE FROM events WHERE origin IN ${inList} AND seq <= ? RETURNING 1`, list, through)
    .toArray().length;
  const left = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM events WHERE origin IN ${inList}`, list).one().n;
  const identifiers = sql
    .exec<Identifier & Record<string, string>>(
      `DELETE FROM identifiers WHERE origin IN ${inList}
         OR (type, value) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))
       RETURNING type, value`,
      list,
      JSON.stringify(elsewhere.map((id) => [id.type, id.value])),
    )
    .toArray()
    .map(({ type, value }) => ({ type, value }));
  if (hasPart(sql, "merges")) {
    sql.exec(`DELETE FROM merged_from WHERE profile_id IN ${inList}`, list);
    // The copies of messages both held went back with the rest; this profile keeps its own.
    sql.exec(
      `DELETE FROM folded_duplicates WHERE origin IN ${inList}
         AND message_id IN (SELECT message_id FROM events WHERE seq <= ?)`,
      list,
      through,
    );
  }
  if (events > 0) rebuildTraits(sql);
  recount(sql, now);
  return { events, identifiers, left };
}
