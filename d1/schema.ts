/**
 * D1: the workspace registry, API keys, and the identity graph (identifier → profile), which D1 alone decides.
 * Profile *data* (events, traits) lives in each profile's Durable Object, never here.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const workspaces = sqliteTable("workspaces", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** JSON of IdentityRules; null means Segment's defaults. */
  identityRules: text("identity_rules"),
  createdAt: integer("created_at").notNull(),
  /**
   * Bumped by every change to the workspace's audiences or computed traits. Ingestion hands it to each ProfileDO,
   * which reloads the definitions only when its cached copy is older.
   */
  definitionsVersion: integer("definitions_version").notNull().default(0),
  /**
   * The definitions version of a deletion whose rebuild (a backfill of every profile) could not be queued: the
   * scheduled sweep queues it and clears this. Null: none pending.
   */
  rebuildUnqueuedVersion: integer("rebuild_unqueued_version"),
});

export const sources = sqliteTable(
  "sources",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  // The console and `GET /v1/sources` list a workspace's sources oldest first: an index probe, not a table scan.
  (t) => [index("sources_by_workspace").on(t.workspaceId, t.createdAt)],
);

/** Keys are stored as SHA-256 hex of the key; the key itself is shown once, when created. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    keyHash: text("key_hash").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    kind: text("kind", { enum: ["write", "secret"] }).notNull(),
    sourceId: text("source_id").references(() => sources.id),
    /** First characters of the key, so a user can tell keys apart in listings. */
    prefix: text("prefix").notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("api_keys_workspace_idx").on(t.workspaceId)],
);

export const profiles = sqliteTable(
  "profiles",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    createdAt: integer("created_at").notNull(),
    /** Set when this profile was merged away: the survivor's id (a forward pointer, followed to the end). */
    mergedInto: text("merged_into"),
    mergeCount: integer("merge_count").notNull().default(0),
    identifierCount: integer("identifier_count").notNull().default(0),
    deletedAt: integer("deleted_at"),
    /**
     * Bumped by every change to the profile or the identifiers it owns. Identity writes check the versions they
     * read (optimistic concurrency), so a resolve never acts on a graph another request changed meanwhile.
     */
    version: integer("version").notNull().default(0),
  },
  (t) => [index("profiles_workspace_idx").on(t.workspaceId, t.id)],
);

export const identifiers = sqliteTable(
  "identifiers",
  {
    workspaceId: text("workspace_id").notNull(),
    type: text("type").notNull(),
    value: text("value").notNull(),
    profileId: text("profile_id").notNull(),
    firstSeen: integer("first_seen").notNull(),
    /**
     * The profile the identifier was first attached to; merges move `profile_id`, never this. A merge undo gives
     * back what its merged-away tree first owned, whichever object the messages that carried it reached. Null for
     * rows written before it was recorded (their undo goes by the objects' record and the journal alone).
     */
    firstProfileId: text("first_profile_id"),
  },
  (t) => [
    uniqueIndex("identifiers_unique").on(t.workspaceId, t.type, t.value),
    index("identifiers_profile_idx").on(t.profileId),
  ],
);

/** The merge journal: why two profiles became one, so it can be explained and undone. */
export const merges = sqliteTable(
  "merges",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    fromProfile: text("from_profile").notNull(),
    intoProfile: text("into_profile").notNull(),
    messageId: text("message_id"),
    rule: text("rule").notNull(),
    /** JSON: the identifiers that linked the two profiles. */
    detail: text("detail"),
    createdAt: integer("created_at").notNull(),
    undoneAt: integer("undone_at"),
    /**
     * When the merged-away profile's object confirmed the fold (the survivor absorbed its state and it became a
     * redirect), or the cron's sweep found nothing owed (the profile was erased). Null while the fold is owed: the sweep
     * asks the object again. 0 for merges journaled before folds were recorded (migration 0024), whose fold is unknown.
     */
    foldedAt: integer("folded_at"),
    /**
     * When the cron's sweep asks the object again after its ask failed: the wait doubles with the merge's age (up to an
     * hour), so objects that keep failing are asked ever less often and never crowd out the merges made after them.
     * Null until a sweep's ask fails.
     */
    foldRetryAt: integer("fold_retry_at"),
  },
  (t) => [
    index("merges_into_idx").on(t.intoProfile),
    // The cron's sweep of folds still owed, newest first: only those rows, few when every fold goes well; then the
    // ones whose ask failed, by when they are due again.
    index("merges_unfolded")
      .on(t.createdAt)
      .where(sql`folded_at IS NULL AND undone_at IS NULL AND fold_retry_at IS NULL`),
    index("merges_fold_retry")
      .on(t.foldRetryAt)
      .where(sql`folded_at IS NULL AND undone_at IS NULL AND fold_retry_at IS NOT NULL`),
    // A profile is merged away at most once at a time; after an undo it may be merged again (a new entry).
    uniqueIndex("merges_from_unique").on(t.fromProfile).where(sql`undone_at IS NULL`),
    // Identity resolution asks whether a message's merge was undone (it then merges nothing again): few rows.
    index("merges_undone_by_message").on(t.workspaceId, t.messageId).where(sql`undone_at IS NOT NULL`),
  ],
);

/**
 * Ingest work that failed every retry (DESIGN §12): one row per dead-lettered queue message, holding the jobs still
 * to do and why the last attempt failed, until an operator replays it (`POST /v1/dead-letters/replay`).
 */
export const ingestDeadLetters = sqliteTable(
  "ingest_dead_letters",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** Null only for a queue body no version of the pipeline understands (the admin token lists those). */
    workspaceId: text("workspace_id"),
    /** The queue message's id: a redelivered dead letter is recorded once. */
    queueMessageId: text("queue_message_id").notNull(),
    /** JSON array of the `IngestJob`s left to do (or the unreadable body, as it came). */
    jobs: text("jobs").notNull(),
    messageCount: integer("message_count").notNull(),
    error: text("error").notNull(),
    /** Deliveries so far: the retry queue's, the dead-letter consumer's, and each failed replay. */
    attempts: integer("attempts").notNull(),
    createdAt: integer("created_at").notNull(),
    replayedAt: integer("replayed_at"),
  },
  (t) => [
    uniqueIndex("ingest_dead_letters_message_unique").on(t.queueMessageId),
    index("ingest_dead_letters_workspace_idx").on(t.workspaceId, t.replayedAt, t.id),
    /** A workspace's dead letters pending and replayed alike, in id order: how a GDPR erase pages through them. */
    index("ingest_dead_letters_workspace_id_idx").on(t.workspaceId, t.id),
    index("ingest_dead_letters_pending_idx").on(t.replayedAt, t.id),
    /** A replay without ids takes the pending rows tried least first (rows that keep failing wait): an index walk. */
    index("ingest_dead_letters_replay_order_idx").on(t.workspaceId, t.replayedAt, t.attempts, t.id),
    index("ingest_dead_letters_replay_order_all_idx").on(t.replayedAt, t.attempts, t.id),
  ],
);

/**
 * Legacy: identifiers of GDPR-deleted profiles in plaintext, as versions before `suppression_hashes` wrote them. No
 * longer written; `workers/identity/suppressions.ts` moves any row left here into `suppression_hashes` (as a keyed
 * hash) and deletes it before an isolate's first suppression check.
 */
export const suppressions = sqliteTable(
  "suppressions",
  {
    workspaceId: text("workspace_id").notNull(),
    type: text("type").notNull(),
    value: text("value").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.type, t.value] })],
);

/**
 * Identifiers of GDPR-deleted profiles, as keyed hashes (HMAC-SHA256 with the `SUPPRESSION_SECRET` Worker secret, of
 * workspace, type and value): later events carrying them are dropped, and no erased email or id is kept readable.
 */
export const suppressionHashes = sqliteTable(
  "suppression_hashes",
  {
    workspaceId: text("workspace_id").notNull(),
    hash: text("hash").notNull(),
    /** The identifier's type (`email`, `user_id`, …): not personal, and it says what kind of thing was erased. */
    type: text("type").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.hash] })],
);

/**
 * GDPR erase requests (DESIGN §12), recorded before anything is erased and carried out step by step (graph,
 * profiles, memberships, dead letters, destinations) until every step is done; `GET /v1/deletions/:id` shows them.
 */
export const deletions = sqliteTable(
  "deletions",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    /**
     * The profile the request named: the profile id it gave, or the live profile its identifier found when it was
     * received. The graph step erases the live profile of what the request named as it is then (see `identifiers`).
     */
    profileId: text("profile_id").notNull(),
    status: text("status", { enum: ["pending", "done"] }).notNull(),
    /** JSON array: the profile and every profile merged into it, as the graph step erased them. */
    profileIds: text("profile_ids"),
    /**
     * JSON array of the erased identifiers, which destinations match the person by: written by the graph step in the
     * same transaction as the erase, and cleared (null) once every destination has deleted the person (until then the
     * job hands a destination its delete again). Before the graph step: the identifier the request named, if it named
     * one, which the graph step looks up again (a merge undo may have moved it to another profile meanwhile).
     */
    identifiers: text("identifiers"),
    suppressedCount: integer("suppressed_count"),
    graphAt: integer("graph_at"),
    profilesAt: integer("profiles_at"),
    membershipsAt: integer("memberships_at"),
    deadLettersAt: integer("dead_letters_at"),
    /** The last ingest dead letter the `dead_letters` step has read, while it reads them over several runs. */
    deadLettersAfter: integer("dead_letters_after"),
    /**
     * When the destinations step queued the deletes; the step is done (`destinationsAt`) only once every destination
     * that was to delete the person has (see `deletionDestinations`).
     */
    destinationsQueuedAt: integer("destinations_queued_at"),
    destinationsAt: integer("destinations_at"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    /** When the retry loop (cron) may take the job up again. */
    nextAttemptAt: integer("next_attempt_at").notNull(),
    createdAt: integer("created_at").notNull(),
    completedAt: integer("completed_at"),
  },
  (t) => [index("deletions_due_idx").on(t.status, t.nextAttemptAt)],
);

/**
 * Every profile a GDPR erase took out of the graph (the one named and each merged into it) and the deletion that did,
 * so a read of any of their ids says which deletion erased it (`resolveProfileRef`). Written with the graph step.
 */
export const erasedProfiles = sqliteTable(
  "erased_profiles",
  {
    workspaceId: text("workspace_id").notNull(),
    profileId: text("profile_id").notNull(),
    deletionId: text("deletion_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.profileId] })],
);

/**
 * Each destination's answer to an erase's delete (DESIGN §12: the job is retried until every destination is done).
 * The erase job writes a `pending` row for every enabled destination when it queues the deletes; the destination's
 * object settles it by the profile the delete names (`ok`: the vendor deleted the person, or never held them;
 * `failed`: the delete was dead-lettered, and the job hands it to the destination again). Dropped with the job's
 * completion: `error` may quote the vendor.
 */
export const deletionDestinations = sqliteTable(
  "deletion_destinations",
  {
    deletionId: text("deletion_id").notNull(),
    destinationId: text("destination_id").notNull(),
    /** The profile the delete names at the destination (the job's first erased profile). */
    profileId: text("profile_id").notNull(),
    status: text("status", { enum: ["pending", "ok", "failed"] }).notNull(),
    /** Why the delete is retrying or failed, as the destination's object last reported. */
    error: text("error"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.deletionId, t.destinationId] }),
    // The destination's object reports by profile.
    index("deletion_destinations_profile_idx").on(t.profileId, t.destinationId),
  ],
);

/**
 * The other half of the journal: identifiers a message carried but the rules kept off a profile (a second
 * user_id on a shared device, a cap), so "why are these two people apart?" has an answer. One row per
 * (profile, identifier, rule): the first message that hit it.
 */
export const droppedLinks = sqliteTable(
  "dropped_links",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    /** Where the message went. */
    profileId: text("profile_id").notNull(),
    type: text("type").notNull(),
    value: text("value").notNull(),
    /** The profile that owns the dropped identifier, when one does (the other person on the device). */
    ownerProfile: text("owner_profile"),
    messageId: text("message_id"),
    /** `limit:<type>`, `cap:identifiers` or `cap:merges`. */
    rule: text("rule").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("dropped_links_unique").on(t.workspaceId, t.profileId, t.type, t.value, t.rule),
    index("dropped_links_owner_idx").on(t.ownerProfile),
  ],
);

/**
 * Always empty. An identity write batch starts with `INSERT INTO identity_write_guard SELECT 0 WHERE <what it read
 * changed>`: the CHECK fails, D1 rolls the whole batch back, and the resolver re-reads and decides again.
 * SQLite has no RAISE outside triggers; this is the portable way to abort a D1 batch on a stale read.
 */
export const identityWriteGuard = sqliteTable("identity_write_guard", { ok: integer("ok").notNull() }, () => [
  check("stale_read", sql`ok = 1`),
]);

/**
 * Empty outside an identity write batch. Each connected component of a resolve opens with `INSERT … SELECT <ticket>
 * WHERE <what it read is unchanged>`; its writes only apply where the ticket exists, and the batch ends by deleting
 * (and returning) its tickets. A stale component then re-plans alone, without rolling back the others.
 */
export const identityWriteTickets = sqliteTable("identity_write_tickets", { ticket: text("ticket").primaryKey() });

/**
 * Audiences and computed traits (DESIGN §6), one row per definition. `definition` is the validated JSON. The
 * `build_*` columns are the progress of the backfill that the definition's latest change started: it covers the
 * workspace at `build_version` (a `workspaces.definitions_version`), and is `ready` once processed reaches total.
 */
export const definitions = sqliteTable(
  "definitions",
  {
    workspaceId: text("workspace_id").notNull(),
    kind: text("kind", { enum: ["audience", "computed_trait"] }).notNull(),
    key: text("key").notNull(),
    name: text("name"),
    description: text("description"),
    definition: text("definition").notNull(),
    /** 1 on creation, +1 on each change of `definition`. */
    version: integer("version").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    buildVersion: integer("build_version").notNull(),
    buildTotal: integer("build_total").notNull().default(0),
    buildProcessed: integer("build_processed").notNull().default(0),
    /**
     * When the backfill of `build_version` was queued (epoch ms); null until it was. A create or change whose queue
     * send failed is answered all the same (the definition is saved): the scheduled sweep queues it.
     */
    buildQueuedAt: integer("build_queued_at"),
    /**
     * Which run of the build counts: a build that made no progress for a while (its queued pages lost) is run again
     * from the start with the next run number, and only pages of the current run count towards `build_processed`.
     */
    buildRun: integer("build_run").notNull().default(0),
    /** The build's last sign of life (epoch ms): queued, a page counted or sent again, the total settled. */
    buildActiveAt: integer("build_active_at"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.kind, t.key] })],
);

/**
 * Current members of each audience, written by each ProfileDO after the commit that changed its membership.
 * `seq` is the profile's membership sequence at that change (the one sent to the sync queue).
 */
export const audienceMembers = sqliteTable(
  "audience_members",
  {
    workspaceId: text("workspace_id").notNull(),
    audience: text("audience").notNull(),
    profileId: text("profile_id").notNull(),
    since: integer("since").notNull(),
    seq: integer("seq").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.audience, t.profileId] }),
    index("audience_members_profile_idx").on(t.workspaceId, t.profileId),
  ],
);

/** Profiles that have a value (not null, not empty) for each computed trait: its `size` and member listing. */
export const computedTraitMembers = sqliteTable(
  "computed_trait_members",
  {
    workspaceId: text("workspace_id").notNull(),
    trait: text("trait").notNull(),
    profileId: text("profile_id").notNull(),
    since: integer("since").notNull(),
    seq: integer("seq").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.trait, t.profileId] }),
    index("computed_trait_members_profile_idx").on(t.workspaceId, t.profileId),
  ],
);

/**
 * The `seq` of each profile's newest leave of each audience or computed trait (`kind` as in `definitions`). A leave
 * deletes the member row, and with it the seq it carried; deliveries do not keep order (a request delivers the
 * changes its profiles handed back only after the others answered, while the object may deliver newer ones itself),
 * so without this an entry older than the leave, arriving after it, would find no row and be a member again.
 * A row goes with its definition, with its profile's GDPR erase, when the profile is back in (the member row's seq then
 * guards) and once no change older than it can still be on its way (`retention.ts`).
 */
export const memberExits = sqliteTable(
  "member_exits",
  {
    workspaceId: text("workspace_id").notNull(),
    kind: text("kind").notNull(),
    key: text("key").notNull(),
    profileId: text("profile_id").notNull(),
    seq: integer("seq").notNull(),
    /** When D1 took the leave (epoch ms): what the cron's prune counts its age from (`retention.ts`). */
    exitedAt: integer("exited_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.kind, t.key, t.profileId] }),
    index("member_exits_profile_idx").on(t.workspaceId, t.profileId),
    index("member_exits_exited_at_idx").on(t.exitedAt),
  ],
);

/**
 * Where a workspace's audiences are synced (DESIGN §7): one row per connected MAP or webhook. `config` is the
 * plugin's JSON config, secrets included (shown masked); `inbound_secret` authenticates its webhook URL.
 */
export const destinations = sqliteTable(
  "destinations",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    type: text("type").notNull(),
    name: text("name").notNull(),
    config: text("config").notNull(),
    /** JSON array of audience keys this destination receives. */
    audiences: text("audiences").notNull(),
    /** JSON array of trait and computed-trait keys sent with each contact. */
    traits: text("traits").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull(),
    inboundSecret: text("inbound_secret").notNull(),
    /** The engagement poller's position (vendor-specific text), null before the first poll. */
    pollCursor: text("poll_cursor"),
    delivered: integer("delivered").notNull().default(0),
    failed: integer("failed").notNull().default(0),
    /**
     * Items the sync settled without sending, ever: a MAP member with no email (MAPs list contacts by email), an exit
     * whose email another profile keeps listed, a delete of a person the vendor never held. The log says which.
     */
    skipped: integer("skipped").notNull().default(0),
    lastSuccessAt: integer("last_success_at"),
    /** The sync's current problem: set by a drain that met one, cleared by a later drain that delivered without one. */
    lastError: text("last_error"),
    /** When `last_error` happened (epoch ms), null with it. */
    lastErrorAt: integer("last_error_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("destinations_workspace_idx").on(t.workspaceId)],
);

/** What the sync engine did, per item: the destination's sync log (newest first, filterable by profile). */
export const syncLog = sqliteTable(
  "sync_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    destinationId: text("destination_id").notNull(),
    at: integer("at").notNull(),
    profileId: text("profile_id").notNull(),
    audience: text("audience"),
    action: text("action", { enum: ["add", "remove", "upsert", "delete"] }).notNull(),
    outcome: text("outcome", { enum: ["ok", "retry", "fail", "skip"] }).notNull(),
    attempts: integer("attempts").notNull(),
    error: text("error"),
  },
  (t) => [
    index("sync_log_destination_idx").on(t.destinationId, t.id),
    index("sync_log_profile_idx").on(t.destinationId, t.profileId, t.id),
    // Entries past the retention are deleted oldest first (`d1/queries/retention.ts`).
    index("sync_log_at_idx").on(t.at),
  ],
);

/** Sync operations that failed for good (or ran out of retries), kept whole so they can be replayed. */
export const syncDeadLetters = sqliteTable(
  "sync_dead_letters",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    destinationId: text("destination_id").notNull(),
    profileId: text("profile_id").notNull(),
    /** JSON of the operation as the destination's object queues it. */
    op: text("op").notNull(),
    error: text("error").notNull(),
    createdAt: integer("created_at").notNull(),
    replayedAt: integer("replayed_at"),
  },
  (t) => [
    index("sync_dead_letters_destination_idx").on(t.destinationId, t.replayedAt),
    // Replayed letters are deleted once they are older than the retention (`d1/queries/retention.ts`).
    index("sync_dead_letters_replayed_idx").on(t.replayedAt),
    // A GDPR erase deletes the person's (`workers/erase/deletion-job.ts`).
    index("sync_dead_letters_profile_idx").on(t.profileId),
  ],
);

/** The vendor's own id of each synced contact (HubSpot record id, Klaviyo profile id, Marketo lead id). */
export const vendorIds = sqliteTable(
  "vendor_ids",
  {
    destinationId: text("destination_id").notNull(),
    email: text("email").notNull(),
    vendorId: text("vendor_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.destinationId, t.email] }),
    index("vendor_ids_vendor_idx").on(t.destinationId, t.vendorId),
  ],
);

/**
 * The repair of a workspace's identity graph running now, at most one (`workers/identity/graph-repair-lock.ts`): a
 * merge undo or a GDPR erase reads a profile's merge tree, then moves or wipes objects before (and after) the graph's
 * batch. Two at once worked from each other's stale reads: undos of one chain pulled the same events back twice and
 * left a merge listed that was undone; an undo racing an erase answered 500, or 200 for a profile the erase then wiped.
 */
export const graphRepairLocks = sqliteTable("graph_repair_locks", {
  workspaceId: text("workspace_id").primaryKey(),
  /** The merge (`mrg_…`) being undone or the deletion (`del_…`) being run. */
  holder: text("holder").notNull(),
  startedAt: integer("started_at").notNull(),
});

/**
 * Answers to secret-key calls that changed something and carried an `Idempotency-Key` (`workers/api/idempotency.ts`):
 * the same call sent again with the same key is answered from here instead of running twice (a client that lost the
 * answer to a dropped connection cannot tell whether the call ran). Kept a day (`d1/queries/retention.ts`).
 */
export const idempotentRequests = sqliteTable(
  "idempotent_requests",
  {
    workspaceId: text("workspace_id").notNull(),
    key: text("key").notNull(),
    /** The method, path and SHA-256 of the body: the same key sent with another call is refused, not answered. */
    fingerprint: text("fingerprint").notNull(),
    startedAt: integer("started_at").notNull(),
    /** Null while the first call runs. */
    status: integer("status"),
    contentType: text("content_type"),
    body: text("body"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.key] }), index("idempotent_requests_started_idx").on(t.startedAt)],
);
