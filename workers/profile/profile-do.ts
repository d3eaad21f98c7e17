/**
 * ProfileDO: one Durable Object per profile, holding its timeline, traits, identifiers and counters in
 * the object's SQLite. Every write RPC is one synchronous transaction, so one call costs one commit.
 *
 * @example
 * const outcome = await profileStub(env.PROFILE, profileId).ingest({ profileId, workspaceId, messages, identifiers });
 * if (outcome.status === "redirect") await profileStub(env.PROFILE, outcome.to).ingest({ ...input, profileId: outcome.to });
 */
import { DurableObject } from "cloudflare:workers";
import { eventTime, insertEvent, readEventPage } from "./event-log";
import { MAX_REDIRECT_HOPS } from "./follow-redirects";
import { attachIdentifier } from "./identifier-set";
import { dropFoldedState, exportChunks, importExport, readMergedFrom } from "./merge";
import { applyDelta, createActive, markDeleted, markRedirect, type ProfileStatus, readStatus } from "./profile-meta";
import type {
  AbsorbOptions,
  AbsorbOutcome,
  EventQuery,
  EventsRead,
  IngestInput,
  IngestOutcome,
  ProfileExport,
  ProfileRead,
  ProfileRpc,
} from "./profile-rpc";
import { profileStub } from "./profile-stub";
import { profileView } from "./profile-view";
import { migrate, readVersion } from "./schema";
import { applyMessageTraits } from "./traits";

/** When a fold fails, the object retries it on its own after this delay (the alarm is a safety net). */
const FOLD_RETRY_MS = 10_000;

export class ProfileDO extends DurableObject<Env> implements ProfileRpc {
  private readonly sql: SqlStorage;
  /** False until this object's tables exist: reads of an unknown profile must not create storage. */
  private hasSchema: boolean;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // Synchronous SQL in the constructor runs before any request is delivered; a current object pays one read.
    this.hasSchema = readVersion(this.sql) > 0;
    if (this.hasSchema) migrate(ctx.storage);
  }

  /** The object's status; an object without tables never received anything. */
  private status(): ProfileStatus {
    return this.hasSchema ? readStatus(this.sql) : { kind: "missing" };
  }

  /** Creates the tables before the first write, in the same turn, so they commit together with it. */
  private ensureSchema(): void {
    if (this.hasSchema) return;
    migrate(this.ctx.storage);
    this.hasSchema = true;
  }

  /** Stores a batch of one profile's messages, its identifiers and trait updates, in one commit. */
  async ingest(input: IngestInput): Promise<IngestOutcome> {
    const status = this.status();
    if (status.kind === "deleted") return { status: "deleted" };
    if (status.kind === "redirect") return { status: "redirect", to: status.to };
    if (status.kind === "active" && status.meta.profileId !== input.profileId) {
      throw new Error(`profile ${status.meta.profileId} was called as ${input.profileId}`);
    }
    const now = Date.now();
    this.ensureSchema();
    return this.ctx.storage.transactionSync(() => {
      if (status.kind === "missing") createActive(this.sql, input.profileId, input.workspaceId, now);
      let changed = status.kind === "missing";
      let inserted = 0;
      let minTs: number | null = null;
      let maxTs: number | null = null;
      for (const message of input.messages) {
        const ts = eventTime(message);
        // Traits of a duplicate were applied when it was first stored; a retry must not re-time them.
        if (!insertEvent(this.sql, message, ts)) continue;
        inserted++;
        minTs = minTs === null ? ts : Math.min(minTs, ts);
        maxTs = maxTs === null ? ts : Math.max(maxTs, ts);
        applyMessageTraits(this.sql, message, ts);
      }
      for (const id of input.identifiers) if (attachIdentifier(this.sql, id)) changed = true;
      if (changed || inserted > 0) applyDelta(this.sql, { inserted, minTs, maxTs, now });
      return { status: "stored", inserted, duplicates: input.messages.length - inserted };
    });
  }

  /** The profile view of DESIGN §5, or where it went. */
  async getProfile(): Promise<ProfileRead> {
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
   * first survivor: merging it elsewhere later is the survivor's job.
   */
  async mergeInto(survivorId: string): Promise<void> {
    const status = this.status();
    if (status.kind === "deleted") return;
    if (status.kind === "redirect") {
      if (status.foldPending) await this.fold(status.to);
      return;
    }
    if (status.kind === "active" && status.meta.profileId === survivorId) {
      throw new Error(`profile ${survivorId} cannot merge into itself`);
    }
    // An object that never ingested has nothing to ship, only a redirect to leave behind.
    this.ensureSchema();
    markRedirect(this.sql, survivorId, status.kind === "active", Date.now());
    if (status.kind === "active") await this.fold(survivorId);
  }

  /** Imports a merged-away profile's export. A tombstone forwards it to its own survivor. */
  async absorb(from: ProfileExport, opts: AbsorbOptions = {}): Promise<AbsorbOutcome> {
    const hops = opts.hops ?? 0;
    if (hops > MAX_REDIRECT_HOPS) return { status: "cycle" };
    const status = this.status();
    // An erased person's data is not resurrected by a late fold.
    if (status.kind === "deleted") return { status: "deleted" };
    if (status.kind === "redirect") {
      return profileStub(this.env.PROFILE, status.to).absorb(from, { survivorId: status.to, hops: hops + 1 });
    }
    const profileId = status.kind === "active" ? status.meta.profileId : (opts.survivorId ?? null);
    if (profileId === null) throw new Error("absorb into an empty profile needs opts.survivorId");
    if (from.profileId === profileId) return { status: "absorbed", into: profileId };
    const self =
      status.kind === "active"
        ? { profileId, workspaceId: status.meta.workspaceId, exists: true }
        : { profileId, workspaceId: from.workspaceId ?? null, exists: false };
    const now = Date.now();
    this.ensureSchema();
    this.ctx.storage.transactionSync(() => importExport(this.sql, from, self, now));
    return { status: "absorbed", into: profileId };
  }

  /** GDPR erase: everything goes; only a marker without personal data stays, so later writes are refused. */
  async erase(): Promise<void> {
    await this.ctx.blockConcurrencyWhile(async () => {
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      migrate(this.ctx.storage);
      this.hasSchema = true;
      markDeleted(this.sql, Date.now());
    });
  }

  /** Retries a fold that failed (e.g. the survivor was unreachable); the runtime retries a throwing alarm. */
  async alarm(): Promise<void> {
    const status = this.status();
    if (status.kind === "redirect" && status.foldPending) await this.fold(status.to, false);
  }

  /** Ships the tombstoned state to `to` in chunks, then drops it and clears the pending flag in one commit. */
  private async fold(to: string, armRetry = true): Promise<void> {
    const status = this.status();
    if (status.kind !== "redirect" || !status.foldPending) return;
    // The state is frozen: a tombstone accepts no ingest and forwards every absorb.
    const chunks = exportChunks(this.sql, status.meta, readMergedFrom(this.sql));
    try {
      const survivor = profileStub(this.env.PROFILE, to);
      for (const chunk of chunks) {
        const outcome = await survivor.absorb(chunk, { survivorId: to });
        if (outcome.status === "cycle") throw new Error(`fold of ${status.meta.profileId} into ${to}: redirect cycle`);
      }
    } catch (err) {
      if (armRetry) await this.ctx.storage.setAlarm(Date.now() + FOLD_RETRY_MS);
      throw err;
    }
    this.ctx.storage.transactionSync(() => {
      dropFoldedState(this.sql);
      this.sql.exec("UPDATE profile_meta SET fold_pending = 0 WHERE status = 'redirect'");
    });
  }
}
