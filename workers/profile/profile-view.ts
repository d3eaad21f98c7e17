/** Assembles the `Profile` the API serves from the object's tables. */
import type { Profile } from "@tessera/protocol";
import { readAudienceView } from "./audience-state";
import { readIdentifiers } from "./identifier-set";
import { readMergedFrom } from "./merge";
import type { ProfileMeta } from "./profile-meta";
import { readTraits } from "./traits";

/** The profile view; a profile that has identifiers but no events yet shows created_at as first/last seen. */
export function profileView(sql: SqlStorage, meta: ProfileMeta): Profile {
  const iso = (ms: number) => new Date(ms).toISOString();
  const { computed, audiences } = readAudienceView(sql);
  return {
    id: meta.profileId as string,
    created_at: iso(meta.createdAt),
    updated_at: iso(meta.updatedAt),
    first_seen: iso(meta.firstSeen ?? meta.createdAt),
    last_seen: iso(meta.lastSeen ?? meta.createdAt),
    event_count: meta.eventCount,
    identifiers: readIdentifiers(sql).map((i) => ({ type: i.type, value: i.value, first_seen: iso(i.firstSeen) })),
    traits: readTraits(sql),
    computed: computed as Profile["computed"],
    audiences: audiences.map((a) => ({ key: a.key, since: iso(a.since) })),
    merged_from: readMergedFrom(sql),
  };
}
