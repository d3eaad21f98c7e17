/**
 * ProfileDO: one Durable Object per profile, holding its timeline, traits, identifiers and counters in
 * the object's SQLite. Every write RPC is one synchronous transaction, so one call costs one commit.
 *
 * @example
 * const outcome = await profileStub(env.PROFILE, profileId).ingest({ profileId, workspaceId, messages, identifiers });
 * if (outcome.status === "redirect") await profileStub(env.PROFILE, outcome.to).ingest({ ...input, profileId: outcome.to });
 */
import { DurableObject } from "cloudflare:workers";
import type { Identifier } from "@tessera/protocol";
import { markMergeFolded } from "../../d1/queries/merge-folds";
import { findProfileRow, graphMergeOf } from "../../d1/queries/merge-undo";
import { loadDefinitions, type VersionedDefinitions } from "../audiences/definitions-cache";
import { computeTrait, type DefinitionSet, evaluateAll, evaluateAudience } from "../audiences/evaluate";
import { earliest } from "../audiences/windows";
import { ABANDONED_AFTER_MS } from "../shared/abandoned-claims";
import {
  evaluateProfile,
  holdsValue,
  leaveEverything,
  leaveReplaced,
  readCachedDefinitions,
  readEvaluationState,
  readNextEvalAt,
  writeCachedDefinitions,
} from "./audience-state";
import { clearDeparted, departedAmong, recordDeparted } from "./departed";
import { eventTime, insertEvent, readEventPage } from "./event-log";
import { followRedirects, MAX_REDIRECT_HOPS } from "./follow-redirects";
import { attachIdentifier, readIdentifiers } from "./identifier-set";
import { dropFoldedState, exportChunks, foldOutcome, forgetFoldsSoFar, importExport, readMergedFrom } from "./merge";
import {
  dropDelivered,
  flushOutbox,
  type OutboxHandoff,
  type OutboxOwner,
  outboxDueAt,
  outboxSize,
  readOutbox,
  recordFailedDelivery,
} from "./outbox";
import { applyDelta, createActive, markDeleted, markRedirect, type ProfileStatus, readStatus } from "./profile-meta";
import type {
  AbsorbOptions,
  AbsorbOutcome,
  CatchUpInput,
  CatchUpOutcome,
  DefinitionsAt,
  DropOriginsInput,
  DropOriginsOutcome,
  EventQuery,
  EventsRead,
  ExportMark,
  ForgetDepartedOutcome,
  IngestInput,
  IngestOutcome,
  MergedAway,
  OriginChunk,
  OriginQuery,
  PreviewInput,
  PreviewOutcome,
  ProfileExport,
  ProfileRead,
  ProfileRpc,
  ReevaluateOutcome,
  RestoreInput,
  RestoreOutcome,
} from "./profile-rpc";
import { profileStub } from "./profile-stub";
import { profileView } from "./profile-view";
import { forgetParts, migrate, readVersion } from "./schema";
import {
  catchUpCounters,
  createdAtWithoutUndone,
  dropOrigins,
  finishRestore,
  importOriginChunk,
  originChunk,
  recordFoldedCreation,
} from "./split";
import { sqlFacts } from "./sql-facts";
import { TraitMemo } from "./trait-memo";
import { TraitWriter } from "./traits";

/** When a fold fails, the object retries it on its own after this delay (the alarm is a safety net). */
const FOLD_RETRY_MS = 10_000;
/** The storage key of a `foldIfMerged` note: the profile and workspace the graph may have merged away. */
const FOLD_IF_MERGED = "fold-if-merged";
/**
 * A `foldIfMerged` note, with when the alarm next asks the graph about it (`askAt`; absent in notes of older code: at
 * once). Kept with the note so every setting of the alarm counts it, not only the call that wrote it.
 */
type FoldNote = MergedAway & { askAt?: number };
/** A delivery started right after a commit is backed by an alarm this far out, in case the object is evicted first. */
const OUTBOX_BACKSTOP_MS = 10_000;
/** The backstop alarm for a commit that left outbox rows (`pending`), else none. */
const backstop = (pending: boolean) => (pending ? Date.now() + OUTBOX_BACKSTOP_MS : null);

export class ProfileDO extends DurableObject<Env> implements ProfileRpc {
  private readonly sql: SqlStorage;
  /** False until this object's tables exist: reads of an unknown profile must not create storage. */
  private hasSchema: boolean;
  /** The definitions in `definitions_cache`, parsed once per wake-up. */
  private definitions: VersionedDefinitions | undefined;
  /**
   * The last committed evaluation's memo (`evaluateAll`): a profile with a long history then folds only its new
   * events into its computed traits. Stored for long logs, so an eviction does not cost a full read;
   * forgotten with any rolled-back write, and checked against the log before use.
   */
  private readonly traitMemo: TraitMemo;
  /** The alarm as this object last set it (`undefined`: not read yet), so a write that changes no time sets none. */
  private alarmAt: number | null | undefined;
  /** A merge undo is pulling this profile's state back: a fold finishing meanwhile must not drop what arrived. */
  private restoring = false;
  /** The outbox delivery under way, if any. */
  private delivery: Promise<void> | null = null;
  /**
   * Set when the last write's transaction also set the alarm it needs (see `armWithinCommit`): that setting, awaited
   * once the write committed, and whether the outbox holds rows, instead of working both out again after it.
   */
  private armedInCommit: { alarm: Promise<void>; pending: boolean } | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.traitMemo = new TraitMemo(ctx.storage.kv);
    // Synchronous SQL in the constructor runs before any request is delivered; a current object pays one read.
    const version = readVersion(this.sql);
    this.hasSchema = version > 0;
    if (this.hasSchema) migrate(ctx.storage, version);
    // An object without tables has never set an alarm (see `armAlarm`; an erase deletes it): no need to ask.
    else this.alarmAt = null;
  }

  /** The object's status; an object without tables never received anything. */
  private status(): ProfileStatus {
    return this.hasSchema ? readStatus(this.sql) : { kind: "missing" };
  }

  /** Creates the tables of an object that has none (inside {@link write}, or before a write of its own). */
  private ensureSchema(): void {
    if (this.hasSchema) return;
    migrate(this.ctx.storage, 0);
    this.hasSchema = true;
  }

  /**
   * Runs `change` as one commit, creating the tables first when the object has none. In workerd every outermost
   * `transactionSync` is a commit of its own (its savepoint is released at the end), and so is `migrate`'s: creating a
   * new profile's schema before its first write's transaction cost every new visitor two commits. Inside, `migrate`'s
   * transaction is a nested savepoint, so schema and first write land together, or (if the write throws) neither.
   */
  private write<T>(change: () => T): T {
    const hadSchema = this.hasSchema;
    try {
      return this.transaction(() => {
        this.ensureSchema();
        return change();
      });
    } catch (err) {
      // Rolled back: the tables (when this write created them) and any alarm set inside are gone with it.
      this.hasSchema = hadSchema;
      this.alarmAt = undefined;
      this.armedInCommit = null;
      throw err;
    }
  }

  /**
   * `transactionSync`, for every write of this object: a part's tables created inside (`ensurePart`) are gone again
   * when it rolls back, so what the object has is then asked of the catalogue anew.
   */
  private transaction<T>(change: () => T): T {
    try {
      return this.ctx.storage.transactionSync(change);
    } catch (err) {
      forgetParts(this.sql);
      this.traitMemo.forget();
      // Definitions the change took in were rolled back with it: read again, so they count as newer next time.
      this.definitions = undefined;
      throw err;
    }
  }

  /** Stores a batch of one profile's messages, its identifiers and trait updates, in one commit. */
  async ingest(input: IngestInput): Promise<IngestOutcome> {
    const fresh = await this.newerDefinitions(input.workspaceId, input.definitionsVersion);
    const status = this.status();
    if (status.kind === "deleted") return { status: "deleted" };
    if (status.kind === "redirect") return { status: "redirect", to: status.to };
    if (status.kind === "active" && status.meta.profileId !== input.profileId) {
      throw new Error(`profile ${status.meta.profileId} was called as ${input.profileId}`);
    }
    const departed = status.kind === "active" ? status.meta.departed : [];
    const returning = departedAmong(departed, input.identifiers);
    if (returning.length > 0 && !input.graphChecked) return { status: "departed", identifiers: returning };
    const now = Date.now();
    const origin = input.arrivedOn ?? null;
    const outcome = this.write(() => {
      if (status.kind === "missing") createActive(this.sql, input.profileId, input.workspaceId, now);
      clearDeparted(this.sql, departed, returning);
      let changed = status.kind === "missing";
      let inserted = 0;
      let minTs: number | null = null;
      let maxTs: number | null = null;
      const traits = new TraitWriter(this.sql);
      for (const message of input.messages) {
        const ts = eventTime(message);
        // Traits of a duplicate were applied when it was first stored; a retry must not re-time them.
        if (!insertEvent(this.sql, message, ts, origin)) continue;
        inserted++;
        minTs = minTs === null ? ts : Math.min(minTs, ts);
        maxTs = maxTs === null ? ts : Math.max(maxTs, ts);
        traits.applyMessage(message, ts);
      }
      for (const id of input.identifiers) if (attachIdentifier(this.sql, id, origin)) changed = true;
      if (changed || inserted > 0) applyDelta(this.sql, { inserted, minTs, maxTs, now });
      traits.warnIfRefused(input.profileId);
      // Only an event (or a new definition) can change what the profile is in; identifiers never do. Memberships
      // are restated only when a trait's value changed, not when an identify repeats what is known.
      if (inserted > 0 || fresh) this.evaluate(now, fresh, traits.changed());
      this.armWithinCommit();
      return { status: "stored", inserted, duplicates: input.messages.length - inserted } as const;
    });
    const owner = { profileId: input.profileId, workspaceId: input.workspaceId };
    const handoff = await this.afterCommit(input.handOff ? owner : undefined);
    return handoff ? { ...outcome, outbox: handoff } : outcome;
  }

  /**
   * The profile view of DESIGN §5, or where it went. Its `audiences` and `computed` answer for now: a window boundary
   * that passed before its alarm ran (a busy runtime fires alarms late) is evaluated first, and so, given the
   * workspace's definitions version (`at`), are definitions it has not evaluated with yet (a change's backfill has not
   * reached it, or could not be queued).
   */
  async getProfile(at?: DefinitionsAt): Promise<ProfileRead> {
    const fresh = at ? await this.newerDefinitions(at.workspaceId, at.definitionsVersion) : null;
    const now = Date.now();
    if (this.status().kind === "active" && (fresh || (readNextEvalAt(this.sql) ?? Infinity) <= now)) {
      this.transaction(() => {
        this.evaluate(now, fresh);
        this.armWithinCommit();
      });
      await this.afterCommit();
    }
    const status = this.status();
    if (status.kind === "active") return { status: "ok", profile: profileView(this.sql, status.meta) };
    if (status.kind === "redirect") return { status: "redirect", to: status.to };
    return { status: status.kind };
  }

  /** One page of the timeline, newest first. */
  async listEvents(q: EventQuery): Promise<EventsRead> {
    const status = this.status();
    if (status.kind === "redirect") return { status: "redirect", to: status.to };
    if (status.kind !== "active") return { status: status.kind };
    const page = readEventPage(this.sql, q);
    return page ? { status: "ok", page } : { status: "invalid_cursor" };
  }

  /**
   * This profile lost a merge to `survivorId`. The tombstone is committed before anything is sent, so
   * reads redirect at once; the state is shipped to the survivor and dropped only once it confirmed.
   * Calling again after a failure re-sends; after success it changes nothing. A tombstone keeps its
   * first survivor: merging it elsewhere later is the survivor's job. `self` is this profile's id and workspace, which
   * an object that never ingested does not know (the graph minted the id and merged it away in one request).
   */
  async mergeInto(survivorId: string, self?: MergedAway): Promise<void> {
    const status = this.status();
    if (status.kind === "deleted") return;
    if (status.kind === "redirect") {
      if (status.foldPending) await this.fold(status.to);
      // Asked again after the fold was done: its record may be what failed (the cron's sweep asks for that reason).
      else await this.recordFolded(self?.profileId ?? status.meta.profileId);
      return;
    }
    if (status.kind === "active" && status.meta.profileId === survivorId) {
      throw new Error(`profile ${survivorId} cannot merge into itself`);
    }
    // A fold requested for a merge that was undone since (a queued retry) must not merge the profile again: after
    // an undo, only the identity graph's word counts.
    if (status.kind === "active" && status.meta.restoredAt !== null) {
      const { restoredAt } = status.meta;
      const graph = await graphMergeOf(this.env.DB, status.meta.profileId as string, Date.now() - ABANDONED_AFTER_MS);
      if (graph?.mergedInto !== survivorId) {
        console.warn(`profile ${status.meta.profileId}: ignoring a fold into ${survivorId} the graph does not hold`);
        return;
      }
      // The undo that restored it can be between its restore and the graph's split, which still shows the merge:
      // merged away now, it would be a tombstone the graph calls live. The caller tries again once the undo is over
      // (undone: nothing to do; failed before the split: the merge stands and is folded).
      if (graph.undoing) throw new Error(`profile ${status.meta.profileId} is being restored; fold it later`);
      // Other calls ran while D1 answered (an erase, another merge, another undo's restore, which D1's answer is
      // not about): decide on what the object is now.
      const now = this.status();
      if (now.kind !== "active" || now.meta.restoredAt !== restoredAt) return this.mergeInto(survivorId, self);
    }
    if (status.kind === "missing" && self) {
      // Nothing to ship, but the survivor lists the id among those merged into it, as the merge journal does. Told
      // before the redirect is written, so a failure leaves the object missing and the queued retry tells it again.
      const named: ProfileExport = {
        ...self,
        createdAt: Date.now(),
        events: [],
        traits: [],
        identifiers: [],
        mergedFrom: [],
      };
      await profileStub(this.env.PROFILE, survivorId).absorb(named, { survivorId });
      // It may have ingested while the survivor was asked: then it has state to fold.
      if (this.status().kind !== "missing") return this.mergeInto(survivorId, self);
    }
    // An object that never ingested has nothing to ship, only a redirect to leave behind.
    const now = Date.now();
    this.write(() => {
      // The merged-away id leaves its audiences; the survivor, evaluated with the folded history, enters them.
      if (status.kind === "active") leaveEverything(this.sql, this.cachedDefinitions(), now);
      markRedirect(this.sql, survivorId, status.kind === "active", now);
    });
    // Exits go out while the identifiers they name are still here; the alarm retries what fails.
    await this.deliverOutbox();
    if (status.kind === "active") await this.fold(survivorId);
    else await this.recordFolded(self?.profileId);
  }

  async foldIfMerged(self: MergedAway): Promise<void> {
    const status = this.status();
    // Already merged away (its own fold retries on its alarm), or erased: nothing is owed.
    if (status.kind === "deleted" || status.kind === "redirect") return;
    // The graph just failed the caller: asked a little later, not now. Tables first, so the alarm can be armed.
    this.write(() => this.noteFoldIfMerged(self));
    // Not sooner for outbox rows: an ingest may have handed them to its request, which is delivering them.
    await this.armAlarm(Date.now() + FOLD_RETRY_MS);
  }

  /** Keeps (or re-times) the `foldIfMerged` note for `self`: the alarm asks the graph about it in `FOLD_RETRY_MS`. */
  private noteFoldIfMerged(self: MergedAway): void {
    const note: FoldNote = {
      profileId: self.profileId,
      workspaceId: self.workspaceId,
      askAt: Date.now() + FOLD_RETRY_MS,
    };
    this.ctx.storage.kv.put(FOLD_IF_MERGED, note);
  }

  /** When the `foldIfMerged` note wants the alarm; null without one. */
  private foldNoteDue(): number | null {
    const note = this.ctx.storage.kv.get<FoldNote>(FOLD_IF_MERGED);
    return note ? (note.askAt ?? Date.now()) : null;
  }

  /** A `foldIfMerged` note, settled: folded into where the graph merged this profile, or dropped when it did not. */
  private async settleFoldIfMerged(): Promise<void> {
    const note = this.ctx.storage.kv.get<FoldNote>(FOLD_IF_MERGED);
    if (!note) return;
    const self: MergedAway = { profileId: note.profileId, workspaceId: note.workspaceId };
    try {
      const row = await findProfileRow(this.env.DB, self.profileId);
      if (row?.mergedInto && row.deletedAt === null) await this.mergeInto(row.mergedInto, self);
    } catch (err) {
      this.noteFoldIfMerged(self);
      throw err;
    }
    this.ctx.storage.kv.delete(FOLD_IF_MERGED);
  }

  /** Imports a merged-away profile's export. A tombstone forwards it to its own survivor. */
  async absorb(from: ProfileExport, opts: AbsorbOptions = {}): Promise<AbsorbOutcome> {
    const hops = opts.hops ?? 0;
    if (hops > MAX_REDIRECT_HOPS) return { status: "cycle" };
    const fresh = from.workspaceId ? await this.newerDefinitions(from.workspaceId, opts.definitionsVersion) : null;
    const status = this.status();
    // An erased person's data is not resurrected by a late fold.
    if (status.kind === "deleted") return { status: "deleted" };
    if (status.kind === "redirect") {
      return profileStub(this.env.PROFILE, status.to).absorb(from, { ...opts, survivorId: status.to, hops: hops + 1 });
    }
    const profileId = status.kind === "active" ? status.meta.profileId : (opts.survivorId ?? null);
    if (profileId === null) throw new Error("absorb into an empty profile needs opts.survivorId");
    if (from.profileId === profileId) return { status: "absorbed", into: profileId };
    const self =
      status.kind === "active"
        ? { profileId, workspaceId: status.meta.workspaceId, exists: true }
        : { profileId, workspaceId: from.workspaceId ?? null, exists: false };
    const now = Date.now();
    this.write(() => {
      // Merged back in: what an undo moved off this profile is here again.
      if (status.kind === "active") clearDeparted(this.sql, status.meta.departed, from.identifiers);
      const imported = foldOutcome(this.ctx.storage.kv, from, importExport(this.sql, from, self, now));
      // Read before the fold: its `created_at` is now the earlier of the two, which an undo must not keep.
      recordFoldedCreation(this.ctx.storage.kv, from, status.kind === "active" ? status.meta.createdAt : now);
      // Not before the fold's last chunk: newer definitions wait for it too (it carries the same version).
      if (imported && (imported.changed || fresh)) this.evaluate(now, fresh, imported.restate);
      this.armWithinCommit();
    });
    await this.afterCommit();
    return { status: "absorbed", into: profileId };
  }

  /** GDPR erase: everything goes; only a marker without personal data stays, so later writes are refused. */
  async erase(): Promise<void> {
    await this.ctx.blockConcurrencyWhile(async () => {
      if (this.status().kind === "active") {
        // Exits first, while the object still knows who it was. If they cannot be delivered the erase goes on:
        // the caller removes the D1 memberships and tells destinations to delete the person outright.
        this.transaction(() => leaveEverything(this.sql, this.cachedDefinitions(), Date.now()));
        await this.deliverOutbox();
      }
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      migrate(this.ctx.storage, 0);
      this.hasSchema = true;
      markDeleted(this.sql, Date.now());
      this.definitions = undefined;
      this.traitMemo.forget();
      this.alarmAt = null;
    });
  }

  /**
   * The object's one alarm, for whichever comes first: a window boundary (a membership or windowed computed value
   * flips with no new event), outbox changes to deliver, or a fold to retry. Each run does what is due and sets
   * the alarm for what is next.
   */
  async alarm(): Promise<void> {
    this.alarmAt = null;
    const status = this.status();
    if (status.kind === "active") {
      const due = readNextEvalAt(this.sql);
      const now = Date.now();
      if (due !== null && due <= now) this.transaction(() => this.evaluate(now, null));
    }
    await this.deliverOutbox();
    try {
      await this.settleFoldIfMerged();
    } catch (err) {
      console.error("a fold owed if the graph merged this profile away could not be settled; retrying", err);
      await this.armAlarm();
      return;
    }
    if (status.kind === "redirect" && status.foldPending) {
      try {
        await this.fold(status.to, false);
      } catch (err) {
        console.error(`fold of ${status.meta.profileId} into ${status.to} failed; retrying`, err);
        await this.armAlarm(Date.now() + FOLD_RETRY_MS);
        return;
      }
    }
    await this.armAlarm();
  }

  /** Evaluates every audience and computed trait again with the workspace's definitions at `definitionsVersion`. */
  async reevaluate(input: DefinitionsAt): Promise<ReevaluateOutcome> {
    const fresh = await this.newerDefinitions(input.workspaceId, input.definitionsVersion);
    const status = this.status();
    if (status.kind === "redirect") return { status: "redirect", to: status.to };
    if (status.kind !== "active") return { status: status.kind };
    // Not fresh: this profile already evaluated with these definitions or newer (the ingest that loaded them did, in
    // the same commit), and its alarm covers what time changes since. A backfill lists every profile, those created
    // after the change too, and a queue may deliver a page twice: those need no second evaluation.
    if (fresh) this.transaction(() => this.evaluate(Date.now(), fresh));
    // A backfill counts this profile as processed on `evaluated`: its changes must be in D1 by then, or the status
    // says "ready" while `size` and the member list still lag. A failed delivery is retried by the alarm, and the
    // backfill asks again later.
    await this.deliverOutbox();
    await this.armAlarm();
    return { status: outboxSize(this.sql) > 0 ? "undelivered" : "evaluated" };
  }

  /**
   * Tries a definition on this profile as it stands, storing nothing. The computed values and audiences it may name
   * are this profile's as a read would answer them (`getProfile`): evaluated afresh, in memory, when the workspace's
   * definitions changed since its last evaluation (a backfill not here yet) or a window boundary passed before its
   * alarm ran; otherwise as stored.
   */
  async preview(input: PreviewInput): Promise<PreviewOutcome> {
    const fresh = await this.newerDefinitions(input.workspaceId, input.definitionsVersion);
    const status = this.status();
    if (status.kind === "redirect") return { status: "redirect", to: status.to };
    if (status.kind !== "active") return { status: status.kind };
    const facts = sqlFacts(this.sql);
    const now = Date.now();
    if ("audience" in input) {
      const stale = fresh !== null || (readNextEvalAt(this.sql) ?? Number.POSITIVE_INFINITY) <= now;
      const afresh = stale ? evaluateAll((fresh ?? this.cachedDefinitions()).set, facts, now) : null;
      const { computed, memberships } = afresh
        ? { computed: afresh.computed, memberships: afresh.audiences }
        : readEvaluationState(this.sql);
      const { member } = evaluateAudience(input.audience, facts, computed, memberships, now);
      return { status: "ok", member, value: null };
    }
    const { value } = computeTrait(input.computedTrait, facts, now);
    return { status: "ok", member: holdsValue(value, input.computedTrait.op), value: value ?? null };
  }

  /** Merge undo, on the survivor: one chunk of what arrived on the split-out profiles. Reads only. */
  async exportOrigins(q: OriginQuery): Promise<OriginChunk> {
    const status = this.status();
    if (status.kind === "redirect") return { status: "redirect", to: status.to };
    if (status.kind !== "active") return { status: status.kind };
    return originChunk(this.sql, status.meta, q.origins, q.afterSeq);
  }

  /**
   * Merge undo, on the merged-away profile: pulls back from the survivor (following it if it merged on) what arrived
   * on `input.origins`, chunk by chunk, then goes live again in one commit with its own traits, counters and
   * audiences. Until that commit it still redirects, so nothing is stored on both sides for long.
   */
  async restoreFrom(input: RestoreInput): Promise<RestoreOutcome> {
    const fresh = await this.newerDefinitions(input.workspaceId, input.definitionsVersion);
    const status = this.status();
    if (status.kind === "deleted") return { status: "deleted" };
    if (status.kind === "active" && status.meta.profileId !== input.profileId) {
      throw new Error(`profile ${status.meta.profileId} was called as ${input.profileId}`);
    }
    this.ensureSchema();
    // Its log is rebuilt from the survivor's: nothing computed from the old one is carried over.
    this.traitMemo.drop();
    this.restoring = true;
    try {
      return await this.pullBack(input, fresh);
    } finally {
      this.restoring = false;
    }
  }

  private async pullBack(input: RestoreInput, fresh: VersionedDefinitions | null): Promise<RestoreOutcome> {
    const through = await this.importOrigins(input.origins, { profileId: input.survivorId, seq: 0 }, input.profileId);
    const now = Date.now();
    const mergedFrom = input.origins.filter((id) => id !== input.profileId);
    this.transaction(() => {
      finishRestore(this.sql, { ...input, mergedFrom }, now);
      this.evaluate(now, fresh, true);
      // Live again, while the graph shows the merge until the undo's split commits. An undo that stops before that
      // (its isolate gone, D1 refusing) would leave this object live beside the survivor, counted in audiences twice,
      // until someone called undo again: the alarm asks the graph (as for a failed resolve's note), and folds back into
      // the survivor once no undo holds the merge and the graph still does; after the split it drops the note.
      this.noteFoldIfMerged(input);
    });
    await this.deliverOutbox();
    await this.armAlarm();
    const identifiers = readIdentifiers(this.sql).map(({ type, value, firstSeen }) => ({ type, value, firstSeen }));
    const events = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM events").one().n;
    return { status: "restored", identifiers, events, through };
  }

  async catchUp(input: CatchUpInput): Promise<CatchUpOutcome> {
    const fresh = await this.newerDefinitions(input.workspaceId, input.definitionsVersion);
    const status = this.status();
    if (status.kind === "redirect") return { status: "redirect", to: status.to };
    if (status.kind !== "active") return { status: status.kind };
    if (status.meta.profileId !== input.profileId) {
      throw new Error(`profile ${status.meta.profileId} was called as ${input.profileId}`);
    }
    const through = await this.importOrigins(input.origins, input.after, input.profileId);
    const now = Date.now();
    this.transaction(() => {
      catchUpCounters(this.sql, now);
      this.evaluate(now, fresh, true);
    });
    await this.deliverOutbox();
    await this.armAlarm();
    return { status: "caught-up", through };
  }

  /**
   * Imports, chunk by chunk, what arrived on `origins` at the survivor after mark `from` (following it if it merged
   * on: its positions mean nothing at the next one, which is read from the start). Returns how far it read.
   */
  private async importOrigins(origins: string[], from: ExportMark, selfId: string): Promise<ExportMark> {
    let survivor = from.profileId;
    let afterSeq = from.seq;
    for (;;) {
      const { profileId, result } = await followRedirects(survivor, (id) =>
        profileStub(this.env.PROFILE, id).exportOrigins({ origins, afterSeq }),
      );
      if (result.status !== "ok") throw new Error(`restoring ${selfId}: survivor ${profileId} is ${result.status}`);
      if (profileId !== survivor) {
        survivor = profileId;
        if (afterSeq > 0) {
          afterSeq = 0;
          continue;
        }
      }
      this.transaction(() => importOriginChunk(this.sql, result.chunk, selfId));
      if (result.chunk.events.length === 0) return { profileId: survivor, seq: afterSeq };
      afterSeq = result.lastSeq;
    }
  }

  /** Merge undo, on the survivor once the restored profile has its state back: drops it here and re-evaluates. */
  async dropOrigins(input: DropOriginsInput): Promise<DropOriginsOutcome> {
    const fresh = await this.newerDefinitions(input.workspaceId, input.definitionsVersion);
    const status = this.status();
    if (status.kind === "redirect") return { status: "redirect", to: status.to };
    if (status.kind !== "active") return { status: status.kind };
    const now = Date.now();
    const dropped = this.transaction(() => {
      const marked = input.through?.profileId === status.meta.profileId ? input.through.seq : 0;
      const through = input.erased ? Number.MAX_SAFE_INTEGER : marked;
      const gone = dropOrigins(this.sql, input.origins, through, now, input.departed);
      createdAtWithoutUndone(this.sql, this.ctx.storage.kv, input.origins);
      // A fold the undo stopped between chunks sends no last one: what its first chunks changed goes with them.
      forgetFoldsSoFar(this.ctx.storage.kv, input.origins);
      if (!input.erased)
        recordDeparted(this.sql, status.meta.departed, [...gone.identifiers, ...(input.departed ?? [])]);
      if (gone.events + gone.identifiers.length > 0 || fresh) this.evaluate(now, fresh, true);
      return { events: gone.events, identifiers: gone.identifiers.length, left: gone.left };
    });
    await this.deliverOutbox();
    await this.armAlarm();
    return { status: "dropped", ...dropped };
  }

  /** GDPR erase of a person an undo split off this profile: their identifiers are no longer kept here as departed. */
  async forgetDeparted(identifiers: Identifier[]): Promise<ForgetDepartedOutcome> {
    const status = this.status();
    // Refusing the erased person's deliveries is the suppression's job now; kept here, their values would outlive them.
    if (status.kind === "active" || status.kind === "redirect")
      clearDeparted(this.sql, status.meta.departed, identifiers);
    return status.kind === "redirect" ? { status: "redirect", to: status.to } : { status: "forgotten" };
  }

  /**
   * The workspace's definitions when the caller knows a newer version than this object has cached, else null.
   * Called before a write's transaction (it may read D1); the transaction stores what it returns.
   */
  private async newerDefinitions(
    workspaceId: string,
    version: number | undefined,
  ): Promise<VersionedDefinitions | null> {
    if (version === undefined || version <= this.cachedDefinitions().version) return null;
    const loaded = await loadDefinitions(this.env.DB, workspaceId, version);
    return loaded.version > this.cachedDefinitions().version ? loaded : null;
  }

  private cachedDefinitions(): VersionedDefinitions {
    if (this.definitions) return this.definitions;
    if (!this.hasSchema) return { version: 0, set: { computed: {}, audiences: {} } };
    this.definitions = readCachedDefinitions(this.sql);
    return this.definitions;
  }

  /**
   * Inside a transaction: adopt `fresh` definitions (if any) and evaluate the profile with them at `now`;
   * `traitsChanged` restates its memberships so destinations upsert the new traits. A call that loaded `fresh` and then
   * awaited (a catch-up or restore reading the survivor) may find a newer version adopted meanwhile by another call:
   * the object keeps that one, never going back to the definitions it replaced.
   */
  private evaluate(now: number, fresh: VersionedDefinitions | null, traitsChanged = false): void {
    if (fresh && fresh.version > this.cachedDefinitions().version) {
      leaveReplaced(this.sql, this.cachedDefinitions(), fresh, now);
      writeCachedDefinitions(this.sql, fresh);
      this.definitions = fresh;
    }
    // Set before the commit: should it roll back, `transaction` drops it again.
    const memo = (set: DefinitionSet) => this.traitMemo.current(set);
    this.traitMemo.update(evaluateProfile(this.sql, this.cachedDefinitions(), now, { traitsChanged, memo }).memo);
  }

  /**
   * After a commit that queued membership changes: they go out now, beside the answer, or back to the caller when it
   * delivers them (`handOffTo`, see `IngestInput.handOff`), with the alarm armed as a backstop should the object be
   * evicted before they are out. Left to the alarm alone they waited for it to fire, seconds late on a busy runtime
   * (the activation bench's burst). Without changes, only the alarm's next due time.
   */
  private async afterCommit(handOffTo?: OutboxOwner): Promise<OutboxHandoff | undefined> {
    const armed = this.armedInCommit;
    this.armedInCommit = null;
    const pending = armed ? armed.pending : outboxSize(this.sql) > 0;
    if (armed) await armed.alarm;
    else await this.armAlarm(backstop(pending), null);
    if (!pending) return undefined;
    if (handOffTo) return readOutbox(this.sql, handOffTo) ?? undefined;
    this.ctx.waitUntil(this.deliverOutbox());
    return undefined;
  }

  async outboxDelivered(upTo: number): Promise<void> {
    if (!this.hasSchema) return;
    dropDelivered(this.sql, upTo);
    // The rest goes out beside the answer: the request that confirms must not wait for each object's own delivery.
    if (outboxSize(this.sql) > 0) return this.ctx.waitUntil(this.deliverOutbox());
    // The backstop armed at the hand-off is not needed any more: back to what is still due (the next window boundary,
    // a `foldIfMerged` note's look at the graph), if anything. A tombstone's alarm retries its fold: left alone.
    if (this.status().kind !== "active") return;
    const wanted = this.wantedAlarm(null);
    if (wanted === this.alarmAt) return;
    if (wanted === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(wanted);
    this.alarmAt = wanted;
  }

  /** Delivers pending membership changes, one delivery at a time (an ingest's and the alarm's never overlap). */
  private async deliverOutbox(): Promise<void> {
    while (this.delivery) await this.delivery;
    this.delivery = this.deliverPending();
    try {
      await this.delivery;
    } finally {
      this.delivery = null;
    }
  }

  /** Delivers pending membership changes; on failure the alarm tries again. Never throws. */
  private async deliverPending(): Promise<void> {
    if (!this.hasSchema) return;
    const status = this.status();
    if (status.kind === "missing" || status.kind === "deleted") return;
    const { profileId, workspaceId } = status.meta;
    if (!profileId || !workspaceId || outboxSize(this.sql) === 0) return;
    try {
      await flushOutbox(this.sql, this.env, { profileId, workspaceId });
    } catch (err) {
      // Backoff with jitter (outbox-retry.ts). The message without its stack: under `wrangler dev` every logged stack
      // is source-mapped by its Node process, which also proxies every request; one per profile per try starves it.
      const retryAt = recordFailedDelivery(this.sql);
      console.error(
        `delivering membership changes of ${profileId} failed; retrying at ${new Date(retryAt).toISOString()}: ${err}`,
      );
      await this.armAlarm(retryAt);
    }
  }

  /**
   * Sets the alarm for the earliest thing due: `at` when given, pending outbox rows (now, or their retry time after
   * a failed delivery; `pending` when the caller just read it), the next window boundary, a `foldIfMerged` note's next
   * look at the graph. Only moves the alarm earlier: a later wish is met when the earlier alarm runs and re-arms.
   */
  private async armAlarm(at: number | null = null, pending?: number | null): Promise<void> {
    if (!this.hasSchema) return;
    const wanted = this.wantedAlarm(at, pending);
    if (wanted === null) return;
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    await this.moveAlarmEarlier(wanted);
  }

  /**
   * The earliest of `at`, pending outbox rows (unless `at` is given), the next window boundary and a `foldIfMerged`
   * note's time: every setting of the alarm counts them all, so none drops a time something still needs.
   */
  private wantedAlarm(at: number | null, pending?: number | null): number | null {
    const outbox = at !== null ? null : pending === undefined ? outboxDueAt(this.sql) : pending;
    return earliest(at, outbox, readNextEvalAt(this.sql), this.foldNoteDue());
  }

  /**
   * Inside a write's transaction: sets the alarm {@link afterCommit} will want (the outbox's backstop, else the next
   * window boundary), so it lands in the write's commit rather than in a commit of its own after it (a brand-new
   * visitor with audience changes paid one more commit for it). Only when this object knows its alarm: reading it
   * needs an await, which a transaction cannot hold; then {@link afterCommit} sets it as before.
   */
  private armWithinCommit(): void {
    if (this.alarmAt === undefined) return;
    const pending = outboxSize(this.sql) > 0;
    const wanted = this.wantedAlarm(backstop(pending), null);
    // Storage writes the alarm at the call, in the open transaction; the promise only reports that.
    this.armedInCommit = { alarm: wanted === null ? Promise.resolve() : this.moveAlarmEarlier(wanted), pending };
  }

  /** Sets the alarm to `wanted` unless it is already due no later (the alarm must be known: `alarmAt` not undefined). */
  private moveAlarmEarlier(wanted: number): Promise<void> {
    if (this.alarmAt !== null && this.alarmAt !== undefined && this.alarmAt <= wanted) return Promise.resolve();
    const written = this.ctx.storage.setAlarm(wanted);
    this.alarmAt = wanted;
    return written.catch((err) => {
      this.alarmAt = undefined;
      throw err;
    });
  }

  /**
   * Ships the tombstoned state to `to` in chunks, then drops it and clears the pending flag in one commit. A merge undo
   * can land while a chunk is on its way (the object serves other calls meanwhile): the fold then stops before the next
   * chunk, which would read the restored profile's log and put its events back on the survivor after the undo's
   * cleanup. While the undo is still pulling back, the alarm tries again later, in case the undo fails.
   */
  private async fold(to: string, armRetry = true): Promise<void> {
    const status = this.status();
    if (status.kind !== "redirect" || !status.foldPending) return;
    // The state is frozen while the fold is owed: a tombstone accepts no ingest and forwards every absorb.
    const chunks = exportChunks(this.sql, status.meta, readMergedFrom(this.sql));
    try {
      const survivor = profileStub(this.env.PROFILE, to);
      const definitionsVersion = this.cachedDefinitions().version;
      for (;;) {
        const owed = this.foldStillOwed(to, status.meta.restoredAt);
        if (owed !== "owed") {
          if (owed === "restoring") await this.armAlarm(Date.now() + FOLD_RETRY_MS);
          return;
        }
        const next = chunks.next();
        if (next.done) break;
        const outcome = await survivor.absorb(next.value, { survivorId: to, definitionsVersion });
        if (outcome.status === "cycle") throw new Error(`fold of ${status.meta.profileId} into ${to}: redirect cycle`);
      }
    } catch (err) {
      if (armRetry) await this.armAlarm(Date.now() + FOLD_RETRY_MS);
      throw err;
    }
    const folded = this.transaction(() => {
      if (this.foldStillOwed(to, status.meta.restoredAt) !== "owed") return false;
      dropFoldedState(this.sql);
      this.sql.exec("UPDATE profile_meta SET fold_pending = 0 WHERE status = 'redirect'");
      return true;
    });
    if (folded) await this.recordFolded(status.meta.profileId);
  }

  /**
   * Tells the merge journal this profile's fold is done, so the cron's sweep of owed folds leaves its merge alone. One
   * small D1 write per merge; a failure costs only a later call from the sweep, which records it then.
   */
  private async recordFolded(profileId: string | null | undefined): Promise<void> {
    if (!profileId) return;
    try {
      await markMergeFolded(this.env.DB, profileId, Date.now());
    } catch (err) {
      console.error(`the fold of ${profileId} is done but could not be recorded; the cron's sweep asks again`, err);
    }
  }

  /**
   * Whether the fold into `to` that began when this profile was last restored at `restoredAt` is still owed:
   * `restoring` while a merge undo pulls its state back, `undone` once an undo made it live again (even if a later
   * merge tombstoned it anew: that merge's own fold ships everything from the start).
   */
  private foldStillOwed(to: string, restoredAt: number | null): "owed" | "restoring" | "undone" {
    if (this.restoring) return "restoring";
    const now = this.status();
    if (now.kind !== "redirect" || !now.foldPending || now.to !== to || now.meta.restoredAt !== restoredAt)
      return "undone";
    return "owed";
  }
}
