/** What callers of ProfileDO send and get back. One RPC and one SQLite commit per profile per batch. */
import type { AcceptedMessage, Identifier, Profile, ProfileEventsPage } from "@tessera/protocol";

export interface IngestInput {
  /** The DO cannot read its own name, so every call that may create it says who it is. */
  profileId: string;
  workspaceId: string;
  messages: AcceptedMessage[];
  /** Identifiers the identity graph attached to this profile for these messages (with first-seen ms). */
  identifiers: Array<Identifier & { firstSeen: number }>;
}

/** A merged-away profile answers every call with where it went; a GDPR-deleted one says so. */
export type Redirected = { status: "redirect"; to: string };
export type Gone = { status: "deleted" } | { status: "missing" };

export type IngestOutcome =
  | { status: "stored"; inserted: number; duplicates: number }
  | Redirected
  | { status: "deleted" };

export type ProfileRead = { status: "ok"; profile: Profile } | Redirected | Gone;

export interface EventQuery {
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  event?: string;
  type?: string;
}
export type EventsRead = { status: "ok"; page: ProfileEventsPage } | Redirected | Gone;

/** Everything a profile holds, moved into the survivor on merge. Importing it twice changes nothing. */
export interface ProfileExport {
  profileId: string;
  createdAt: number;
  events: AcceptedMessage[];
  /** Trait values with the event time that set them, so last-write-by-timestamp still holds after a merge. */
  traits: Array<{ key: string; value: unknown; updatedAt: number }>;
  identifiers: Array<Identifier & { firstSeen: number }>;
  mergedFrom: string[];
}
