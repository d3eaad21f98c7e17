/** `type\0value` (see `identifierKey`): the key message extraction deduplicates by too. */
export { identifierKey as keyOf } from "@tessera/protocol";

/** A live profile as the resolver needs it to apply limits and caps. */
export interface ProfileState {
  id: string;
  createdAt: number;
  /** What D1 said when read; writes are guarded on it. */
  version: number;
  mergeCount: number;
  /** Identifiers held, per type. */
  counts: Map<string, number>;
}

/** The part of the identity graph one batch touches, read in one D1 round trip. */
export interface GraphSnapshot {
  /** Identifier key → owning profile id (always a live profile: merges repoint identifiers in the same batch). */
  owners: Map<string, string>;
  suppressed: Set<string>;
  profiles: Map<string, ProfileState>;
}

export const totalOf = (counts: Map<string, number>): number => {
  let n = 0;
  for (const c of counts.values()) n += c;
  return n;
};

/** Oldest first (created_at, ties by id), the order every concurrent merger agrees on. */
export const olderFirst = (a: ProfileState, b: ProfileState): number =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
