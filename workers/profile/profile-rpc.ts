/** What callers of ProfileDO send and get back. One RPC and one SQLite commit per profile per batch. */
import type {
  AcceptedMessage,
  AudienceDefinition,
  ComputedTraitDefinition,
  Identifier,
  Profile,
  ProfileEventsPage,
} from "@tessera/protocol";
import type { OutboxHandoff } from "./outbox";
import type { TraitWrite } from "./traits";

export interface IngestInput {
  /** The DO cannot read its own name, so every call that may create it says who it is. */
  profileId: string;
  workspaceId: string;
  messages: AcceptedMessage[];
  /** Identifiers the identity graph attached to this profile for these messages (with first-seen ms). */
  identifiers: Array<Identifier & { firstSeen: number }>;
  /**
   * The profile the graph gave these messages to, when it is not this one: it was merged into this one before they
   * were stored (its tombstone forwarded them; the fold of a profile created and merged away in the same request
   * can overtake its own messages). They keep it as their origin, as a fold would have, so a merge undo takes them
   * back to it.
   */
  arrivedOn?: string;
  /**
   * The workspace's `definitions_version` as the caller knows it (DESIGN §6). The object reloads its audiences
   * and computed traits from D1 only when its cached copy is older; left out, it keeps what it has.
   */
  definitionsVersion?: number;
  /**
   * The caller delivers the membership changes this commit causes, together with other profiles' (one D1 batch and
   * one queue send for many profiles), and confirms with `outboxDelivered`: they come back in the outcome's `outbox`.
   * Left out, the object delivers them itself. Either way they stay in its outbox, under an alarm, until delivered.
   */
  handOff?: boolean;
  /**
   * Every identifier's owner was read from the identity graph for this call, not from an isolate's cache or a
   * cookie: the object then accepts identifiers a merge undo moved off it (see the `departed` outcome), which only
   * the graph can have moved back.
   */
  graphChecked?: boolean;
}

/** Which definitions to evaluate with: the workspace's, at least at `definitionsVersion`. */
export interface DefinitionsAt {
  workspaceId: string;
  definitionsVersion: number;
}

/** A definition tried on one profile without saving it (`POST /v1/audiences/preview`), against its current state. */
export type PreviewInput = DefinitionsAt &
  ({ audience: AudienceDefinition } | { computedTrait: ComputedTraitDefinition });

/** `member` for an audience; `value` for a computed trait (null when nothing matches, as §6 says). */
export type PreviewOutcome = { status: "ok"; member: boolean; value: unknown } | Redirected | Gone;

/**
 * `undelivered`: evaluated, but its membership changes are not in D1 yet (the alarm delivers them): a backfill counts
 * the profile only once they are, so that a build is never `ready` while its members list lacks any.
 */
export type ReevaluateOutcome = { status: "evaluated" } | { status: "undelivered" } | Redirected | Gone;

/** A merged-away profile answers every call with where it went; a GDPR-deleted one says so. */
export type Redirected = { status: "redirect"; to: string };
export type Gone = { status: "deleted" } | { status: "missing" };

export type IngestOutcome =
  | { status: "stored"; inserted: number; duplicates: number; outbox?: OutboxHandoff }
  | Redirected
  | { status: "deleted" }
  /**
   * Nothing stored: a merge undo moved `identifiers` off this profile, so whoever routed them here read a stale
   * cache or cookie. The caller forgets them and asks the identity graph again (then with `graphChecked`).
   */
  | { status: "departed"; identifiers: Identifier[] };

export type ProfileRead = { status: "ok"; profile: Profile } | Redirected | Gone;

export interface EventQuery {
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  event?: string;
  type?: string;
}
/** `invalid_cursor`: the cursor was not issued by this profile's timeline (answer 400, not 500). */
export type EventsRead = { status: "ok"; page: ProfileEventsPage } | { status: "invalid_cursor" } | Redirected | Gone;

/**
 * Everything a profile holds, moved into the survivor on merge. Importing it twice changes nothing.
 * A large profile travels as several exports: the first carries traits, identifiers and mergedFrom,
 * all of them carry a share of the events.
 */
export interface ProfileExport {
  profileId: string;
  /** Lets a survivor that never received anything itself record its workspace. */
  workspaceId?: string;
  createdAt: number;
  events: AcceptedMessage[];
  /**
   * The profile each of `events` arrived on, by position (absent or null: `profileId`), so a merge can be undone
   * after the survivor merged on again.
   */
  eventOrigins?: Array<string | null>;
  /**
   * Trait values with the event time that set them, so last-write-by-timestamp still holds after a merge;
   * `receivedAt` (server ms), then `messageId` (the message that set the value), break ties in the fold as
   * `supersedes` says.
   * Absent (an export of older code): `receivedAt` is `updatedAt`, the message is not known.
   */
  traits: TraitWrite[];
  /** `origin`: the profile the identifier arrived on (absent or null: `profileId`). */
  identifiers: Array<Identifier & { firstSeen: number; origin?: string | null }>;
  mergedFrom: string[];
  /**
   * False on every chunk of a fold but its last: the survivor imports it without evaluating its audiences, which it
   * does once the last is in, on the merged whole. Absent: the export's last (or only) chunk.
   */
  final?: boolean;
}

/** The profile a merge takes away, as the graph names it. */
export interface MergedAway {
  profileId: string;
  workspaceId: string;
}

/** How `absorb` was reached: the survivor's own id (so an object that never ingested can adopt it) and hops so far. */
export interface AbsorbOptions {
  survivorId?: string;
  /** Tombstones forward to their survivor; a cycle would forward forever, so the chain length is capped. */
  hops?: number;
  /** The merged-away profile's definitions version, so a survivor that has older ones evaluates with these. */
  definitionsVersion?: number;
}

/**
 * Where an export ended up: `absorbed` into the profile `into` (the end of any redirect chain), `deleted`
 * (that profile was erased, so the data is dropped on purpose), or `cycle` (redirects loop; nothing stored).
 */
export type AbsorbOutcome = { status: "absorbed"; into: string } | { status: "deleted" } | { status: "cycle" };

/** Merge undo, on the survivor: which events (after `afterSeq`, in storage order) to ship back. */
export interface OriginQuery {
  /** The merged-away profile and every profile merged into it before: what arrived on these goes back. */
  origins: string[];
  afterSeq: number;
}

/** One chunk of what arrived on the split-out profiles; an empty chunk after the first means everything was read. */
export type OriginChunk = { status: "ok"; chunk: ProfileExport; lastSeq: number } | Redirected | Gone;

/** Merge undo, on the merged-away profile: who it is again, and where its events and identifiers are now. */
export interface RestoreInput extends DefinitionsAt {
  profileId: string;
  /** Its creation time in the identity graph. */
  createdAt: number;
  /** The live end of the chain it was merged into. */
  survivorId: string;
  origins: string[];
}

/**
 * How far a restore read the survivor: its events up to `seq` of object `profileId` (the survivor it ended at). The
 * survivor drops only what was read: a message can still reach it through the merged-away profile's redirect while
 * the restore runs.
 */
export interface ExportMark {
  profileId: string;
  seq: number;
}

/**
 * `restored`: live again with these identifiers and this many events (its whole state, not only what came back),
 * having read the survivor `through` this mark.
 */
export type RestoreOutcome =
  | {
      status: "restored";
      identifiers: Array<Identifier & { firstSeen: number }>;
      events: number;
      through: ExportMark;
    }
  | { status: "deleted" };

/** Merge undo, on the restored profile (live again): pulls what reached the survivor after `after`. */
export interface CatchUpInput extends DefinitionsAt {
  profileId: string;
  origins: string[];
  after: ExportMark;
}

/** `caught-up`: it holds what arrived on the origins, having read the survivor `through` this mark. */
export type CatchUpOutcome = { status: "caught-up"; through: ExportMark } | Redirected | Gone;

/** Merge undo, on the survivor: what arrived on `origins` goes, and `departed` now belong to the restored profile. */
export interface DropOriginsInput extends DefinitionsAt {
  origins: string[];
  /** What the restored profile read: events that arrived on `origins` go up to this mark; without one, none go. */
  through?: ExportMark;
  /**
   * Identifiers the graph no longer gives this profile, whichever profile they arrived on: they leave its list with
   * those that arrived on `origins`, and ingests that name them without `graphChecked` are answered `departed`.
   */
  departed?: Identifier[];
  /**
   * The restored profile was erased (GDPR) before this cleanup ran: everything that arrived on `origins` goes, mark or
   * not (nobody takes it back), and none of it is listed as departed (their suppression refuses it).
   */
  erased?: boolean;
}

/** `left`: events that arrived on the origins after the mark (or at another object), still here. */
export type DropOriginsOutcome =
  | { status: "dropped"; events: number; identifiers: number; left: number }
  | Redirected
  | Gone;

/** `forgotten`: none of the identifiers is departed here any more (also when the object never held them). */
export type ForgetDepartedOutcome = { status: "forgotten" } | Redirected;

/**
 * The RPC surface of ProfileDO with plain types. TypeScript gives up ("excessively deep") when it maps
 * the recursive JSON types through `DurableObjectStub<ProfileDO>`, so callers use this via `profileStub`.
 */
export interface ProfileRpc {
  ingest(input: IngestInput): Promise<IngestOutcome>;
  /** The changes of a handed-off outbox up to seq `upTo` were delivered; the object delivers any others itself. */
  outboxDelivered(upTo: number): Promise<void>;
  /** With `at`, evaluated with the workspace's definitions at that version first when it has not been yet. */
  getProfile(at?: DefinitionsAt): Promise<ProfileRead>;
  listEvents(q: EventQuery): Promise<EventsRead>;
  mergeInto(survivorId: string, self?: MergedAway): Promise<void>;
  /**
   * The identity graph may have merged this profile away, and nobody may ask for its fold: the resolve that wrote the
   * merge failed (or lost D1's reply), and if the retry queue refuses its messages too, resolving them again later
   * finds one profile and asks for nothing. The object keeps a note and, from its alarm, asks the graph: merged, it
   * folds (as `mergeInto`); not, it forgets the note. Kept, and asked again, until the graph answers. Idempotent.
   */
  foldIfMerged(self: MergedAway): Promise<void>;
  absorb(from: ProfileExport, opts?: AbsorbOptions): Promise<AbsorbOutcome>;
  erase(): Promise<void>;
  /**
   * Evaluates every audience and computed trait again from the stored history, with the workspace's definitions at
   * least at `definitionsVersion` (a backfill page). Idempotent: evaluation recomputes from the event log, so a
   * profile evaluated twice, or by a backfill and a live event at once, counts each event once.
   */
  reevaluate(input: DefinitionsAt): Promise<ReevaluateOutcome>;
  /** Evaluates a definition that is not saved, against this profile's current state; stores nothing. */
  preview(input: PreviewInput): Promise<PreviewOutcome>;
  /** Merge undo, on the survivor: one chunk of what arrived on `q.origins`. Reads only. */
  exportOrigins(q: OriginQuery): Promise<OriginChunk>;
  /**
   * Merge undo, on the merged-away profile: pulls back from the survivor what arrived on `input.origins`, and goes
   * live again with its own traits and counters recomputed and its audiences re-evaluated. Idempotent.
   */
  restoreFrom(input: RestoreInput): Promise<RestoreOutcome>;
  /**
   * Merge undo, on the restored profile once live: pulls from the survivor what arrived on `input.origins` after the
   * mark, and recomputes its traits, counters and audiences. Idempotent; a redirect or erased profile pulls nothing.
   */
  catchUp(input: CatchUpInput): Promise<CatchUpOutcome>;
  /**
   * Merge undo, on the survivor, after the restore: drops what arrived on `origins` up to the restore's mark and
   * re-evaluates. Idempotent.
   */
  dropOrigins(input: DropOriginsInput): Promise<DropOriginsOutcome>;
  /**
   * GDPR erase of a person a merge undo split off this profile: `identifiers` leave its departed list. A tombstone
   * forgets them too, then answers its redirect (the undo listed them at the live end of the chain then). Idempotent.
   */
  forgetDeparted(identifiers: Identifier[]): Promise<ForgetDepartedOutcome>;
}
