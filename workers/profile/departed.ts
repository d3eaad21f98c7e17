/**
 * Identifiers a merge undo moved off this profile (the survivor's side of DESIGN §12). The identity graph in D1 says
 * where they belong now, but an isolate's identifier cache or a visitor's signed profile cookie may still route them
 * here; this object refuses such a delivery (`departed`) so the collector asks the graph again, instead of storing
 * the restored person's events on the survivor. Kept as a JSON array in `profile_meta.departed`, which every call
 * reads anyway with the status: no extra statement on the hot path, and an undo is rare.
 */
import type { Identifier } from "@tessera/protocol";
import { keyOf } from "../identity/graph-snapshot";

/** The departed identifiers among `ids`. */
export function departedAmong(departed: readonly Identifier[], ids: readonly Identifier[]): Identifier[] {
  if (departed.length === 0) return [];
  const keys = new Set(departed.map(keyOf));
  return ids.filter((id) => keys.has(keyOf(id))).map(({ type, value }) => ({ type, value }));
}

/** Adds `ids` to the departed identifiers (inside the caller's transaction). */
export function recordDeparted(sql: SqlStorage, departed: readonly Identifier[], ids: readonly Identifier[]): void {
  if (ids.length === 0) return;
  const all = new Map(departed.map((id) => [keyOf(id), id]));
  for (const id of ids) all.set(keyOf(id), { type: id.type, value: id.value });
  writeDeparted(sql, [...all.values()]);
}

/**
 * `ids` are no longer departed: the graph brought them back to this profile (a new merge, a graph-checked delivery),
 * or the person they went to was erased (their suppression refuses them from then on).
 */
export function clearDeparted(sql: SqlStorage, departed: readonly Identifier[], ids: readonly Identifier[]): void {
  if (departed.length === 0 || ids.length === 0) return;
  const back = new Set(ids.map(keyOf));
  const left = departed.filter((id) => !back.has(keyOf(id)));
  if (left.length !== departed.length) writeDeparted(sql, left);
}

function writeDeparted(sql: SqlStorage, ids: Identifier[]): void {
  sql.exec("UPDATE profile_meta SET departed = ? WHERE singleton = 1", ids.length === 0 ? null : JSON.stringify(ids));
}
