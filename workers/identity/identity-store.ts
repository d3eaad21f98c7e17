import type { DroppedLink, Identifier, MergeRecord } from "@tessera/protocol";
import type { IdentityRules } from "./rules";

/** One message's identifiers, in the order they were seen in the batch. */
export interface ResolveInput {
  messageId: string;
  identifiers: Identifier[];
  /** Event time in epoch ms: an identifier's `first_seen`. */
  at: number;
  /**
   * `alias` messages only (`ExtractedIdentifiers.previousId`): `identifiers` carry it as an `anonymous_id`; when a
   * profile already owns this value as a `user_id`, the store uses that `user_id` instead, so an alias of an old
   * user id reaches the profile that holds it (and the rules decide whether two user ids may meet).
   */
  previousId?: string;
  /**
   * The message comes from a queued resolve job: its first resolve failed, possibly after writing its merges (a later
   * attempt of the same batch threw, or D1 committed and the reply was lost). The graph then already holds the link,
   * so resolving again merges nothing; the store also reports the message's live merges from the journal in
   * `merged`, so their folds are asked for again (folds are idempotent), and never answers it from a cache. Left out
   * by ordinary traffic, which thus pays no journal read.
   */
  retried?: boolean;
}

/** Refused links are part of the profile API's answer, so their shape is the wire contract's. */
export type { DroppedLink };

/** Where one message belongs, after the workspace's identity rules were applied. */
export type ResolveOutcome =
  | {
      kind: "profile";
      profileId: string;
      /** True when this message created the profile. */
      created: boolean;
      /** Identifiers of the message that are now attached to `profileId` (input minus `dropped`). */
      attached: Identifier[];
      /** Identifiers left out because keeping them would merge two people (limits per type, caps). */
      dropped: Identifier[];
      /**
       * Profiles this message merged into `profileId` (or into a profile merged into it since, for a `retried`
       * input); their Durable Objects must be folded in.
       */
      merged: Array<{ from: string; into: string }>;
      /** Answered from an isolate's cache (or a cookie it vouched for), not read from the graph: may be stale. */
      cached?: true;
    }
  | { kind: "suppressed"; identifier: Identifier };

/** A merge a failed resolve wrote, or may have written (D1 failed on the batch that carried it). */
export interface MergeMaybeWritten {
  from: string;
  into: string;
  /** The message that caused it. */
  messageId: string;
}

/**
 * A resolve failed after it wrote merges, or may have (its batch failed, and D1 may have committed it and lost the
 * reply). Nobody is told to fold those profiles: their messages come back from the retry queue, or the client sends
 * them again, and resolving again finds the two profiles already one. The caller leaves a note with each merged-away
 * profile, which asks the graph later and folds (see `ProfileRpc.foldIfMerged`).
 */
export class ResolveFailedAfterMerging extends Error {
  constructor(
    readonly merges: readonly MergeMaybeWritten[],
    options: { cause: unknown },
  ) {
    // The cause's words first: dead letters and logs show a failure by its message.
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`${reason} (after writing, or trying to write, ${merges.length} merges)`, options);
    this.name = "ResolveFailedAfterMerging";
  }
}

/** The merges a failed resolve wrote or may have written (none when it failed before any). */
export function mergesMaybeWritten(err: unknown): readonly MergeMaybeWritten[] {
  return err instanceof ResolveFailedAfterMerging ? err.merges : [];
}

/**
 * The identity graph: which profile each identifier belongs to. D1 is the one authority
 * (`UNIQUE(workspace, type, value)`); the seam exists so it can later be sharded into Durable Objects.
 */
export interface IdentityStore {
  /**
   * Resolve a batch's messages in order (a later message sees what an earlier one attached or merged).
   * Concurrent calls for the same identifiers converge on one profile; merges keep the oldest profile.
   */
  resolve(workspaceId: string, rules: IdentityRules, inputs: ResolveInput[]): Promise<ResolveOutcome[]>;
  /** The live profile an identifier belongs to (forward pointers followed), or null. */
  findProfile(workspaceId: string, identifier: Identifier): Promise<string | null>;
  /** A profile id's live survivor (itself when never merged), or null when unknown or deleted. */
  liveProfile(workspaceId: string, profileId: string): Promise<string | null>;
  /** Every merge journal entry that folded some profile into `profileId`, directly or transitively. */
  mergesInto(workspaceId: string, profileId: string): Promise<MergeRecord[]>;
  /** Links the rules refused that involve `profileId` (either side, and profiles merged into it), newest first. */
  droppedLinks(workspaceId: string, profileId: string): Promise<DroppedLink[]>;
  /**
   * GDPR delete: removes the profile (and the profiles merged into it) from the graph, and suppresses
   * their identifiers so later events carrying them are dropped. Returns the profile ids erased.
   */
  erase(workspaceId: string, profileId: string): Promise<{ profileIds: string[]; identifiers: Identifier[] }>;
}
