/** Identifiers attached to a profile, each with the earliest time it was seen. */
import type { Identifier } from "@tessera/protocol";

export type SeenIdentifier = Identifier & { firstSeen: number };
/** An identifier as a merge ships it: with the profile it arrived on (absent or null: the shipping profile). */
export type OriginIdentifier = SeenIdentifier & { origin?: string | null };

/**
 * Attaches an identifier, or moves its first_seen earlier. Returns whether anything changed. `origin` is the profile
 * the identifier arrived on when a merge folded it in (null: this one). A folded origin replaces a null one: the
 * identity graph gives an identifier one owner, so this profile can only have seen it first when a message reached
 * it mid-merge, and the identifier still belongs to the profile it is folded from.
 */
export function attachIdentifier(sql: SqlStorage, id: SeenIdentifier, origin: string | null = null): boolean {
  const cursor = sql.exec(
    `INSERT INTO identifiers (type, value, first_seen, origin) VALUES (?, ?, ?, ?)
     ON CONFLICT (type, value) DO UPDATE SET first_seen = min(excluded.first_seen, identifiers.first_seen),
       origin = coalesce(identifiers.origin, excluded.origin)
     WHERE excluded.first_seen < identifiers.first_seen OR (identifiers.origin IS NULL AND excluded.origin IS NOT NULL)
     RETURNING 1`,
    id.type,
    id.value,
    id.firstSeen,
    origin,
  );
  return cursor.toArray().length === 1;
}

/** Every identifier, oldest first, with the profile it arrived on (null: this one). */
export function readIdentifiers(sql: SqlStorage): OriginIdentifier[] {
  return sql
    .exec<{ type: string; value: string; first_seen: number; origin: string | null }>(
      "SELECT type, value, first_seen, origin FROM identifiers ORDER BY first_seen, type, value",
    )
    .toArray()
    .map((r) => ({ type: r.type, value: r.value, firstSeen: r.first_seen, origin: r.origin }));
}
