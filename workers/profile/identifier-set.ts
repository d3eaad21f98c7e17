/** Identifiers attached to a profile, each with the earliest time it was seen. */
import type { Identifier } from "@tessera/protocol";

export type SeenIdentifier = Identifier & { firstSeen: number };

/** Attaches an identifier, or moves its first_seen earlier. Returns whether anything changed. */
export function attachIdentifier(sql: SqlStorage, id: SeenIdentifier): boolean {
  const cursor = sql.exec(
    `INSERT INTO identifiers (type, value, first_seen) VALUES (?, ?, ?)
     ON CONFLICT (type, value) DO UPDATE SET first_seen = excluded.first_seen
     WHERE excluded.first_seen < identifiers.first_seen
     RETURNING 1`,
    id.type,
    id.value,
    id.firstSeen,
  );
  return cursor.toArray().length === 1;
}

/** Every identifier, oldest first. */
export function readIdentifiers(sql: SqlStorage): SeenIdentifier[] {
  return sql
    .exec<{ type: string; value: string; first_seen: number }>(
      "SELECT type, value, first_seen FROM identifiers ORDER BY first_seen, type, value",
    )
    .toArray()
    .map((r) => ({ type: r.type, value: r.value, firstSeen: r.first_seen }));
}
