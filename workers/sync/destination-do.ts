/**
 * DestinationDO: one Durable Object per destination, the scheduler and limiter of everything sent to that vendor
 * (DESIGN §7, maps.md §4.1). The sync queue consumer hands it operations; it keeps them in its SQLite, coalesced
 * (the newest `seq` per profile and audience wins, and an operation no newer than what was already synced is
 * dropped), and drains them from its alarm (`drain.ts`): chunked to the plugin's limits, with at most
 * `limits.concurrency` requests in flight and `limits.rate` per window (see `vendor-gate.ts`), paused on the vendor's
 * throttling signal, retried with backoff, dead-lettered in D1 when they fail for good. Each drain writes the sync
 * log, vendor ids and counters to D1 in one batch. A drain takes each audience's work in whole vendor batches (see
 * `due-rows.ts`) and upserts a contact once however many of its audiences changed. A member whose synced traits
 * changed is upserted, not listed again; one whose email changed is listed under the new email and removed under the
 * old one; the cron's reconciliation (see `reconcile.ts`) repairs drift between intended and synced membership.
 */
import { DurableObject } from "cloudflare:workers";
import { type DestinationRow, findDestinationById } from "../../d1/queries/destinations";
import { savePollCursor } from "../../d1/queries/sync-records";
import { authPausedUntil, clearAuthPause } from "./auth-pause";
import { Drain } from "./drain";
import { storeEngagements } from "./engagement";
import { erasedHere } from "./erased-contacts";
import type { DestinationPlugin } from "./plugin";
import { kvStore, pluginContext } from "./plugin-context";
import { decodePosition, encodePosition, reconcileStep } from "./reconcile";
import { clearRefusal, forgetRefusals, REFUSALS_SCHEMA, wasRefused } from "./refusals";
import { pluginFor, pollerFor } from "./registry";
import { opAudience, type SyncOp } from "./sync-op";
import { RESTATEMENT_KEY, restateSelected, restateStep, startRestatement, type TraitWalk } from "./trait-restatement";
import { VendorGate } from "./vendor-gate";
import { forgetJobsOf, nextJobCheck, VENDOR_JOBS_SCHEMA } from "./vendor-jobs";

/** Pages an engagement poll reads per call. */
const MAX_POLL_PAGES = 10;
/** After a drain failed unexpectedly, the next one waits this long. */
const DRAIN_FAILURE_RETRY_MS = 5_000;
/** Rows a cron tick's reconciliation examines per destination: a million-member audience takes many ticks. */
export const RECONCILE_ROWS_PER_TICK = 5_000;
/** Where the cron's reconciliation resumes (`kv`). */
const RECONCILE_CURSOR_KEY = "reconcile:cursor";
/**
 * Listed members a cron tick reads the profile of to restate traits the destination gained (see
 * `trait-restatement.ts`): each is a read of a profile's object, where reconciliation reads only drifted ones.
 */
const RESTATE_ROWS_PER_TICK = 1_000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS pending (
    profile_id TEXT NOT NULL,
    audience   TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    op         TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    not_before INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (profile_id, audience)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS pending_due ON pending (not_before);
  CREATE INDEX IF NOT EXISTS pending_by_audience ON pending (audience, not_before);
  CREATE TABLE IF NOT EXISTS synced (
    profile_id TEXT NOT NULL,
    audience   TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    member     INTEGER NOT NULL,
    PRIMARY KEY (profile_id, audience)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS synced_by_audience ON synced (audience, profile_id);
  CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS identity (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), destination_id TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS forgotten (singleton INTEGER PRIMARY KEY CHECK (singleton = 1));
`;

/**
 * What `synced` remembers of each sent membership besides its state: the email the vendor knows the contact by (an
 * exit found by reconciliation must name it) and the traits sent (a change of them is an upsert, an unchanged
 * restatement sends nothing). Added to objects created before them.
 */
const SYNCED_CONTACT_COLUMNS = ["email", "traits"] as const;

function migrateSynced(sql: SqlStorage): void {
  const have = new Set(
    sql
      .exec<{ name: string }>("SELECT name FROM pragma_table_info('synced')")
      .toArray()
      .map((c) => c.name),
  );
  for (const column of SYNCED_CONTACT_COLUMNS) {
    if (!have.has(column)) sql.exec(`ALTER TABLE synced ADD COLUMN ${column} TEXT`);
  }
  // Whether another profile keeps an email listed (see `Drain.stillListed`).
  sql.exec("CREATE INDEX IF NOT EXISTS synced_by_email ON synced (audience, email)");
}

/** What the engine and the API ask a destination's object. */
/**
 * `replay`: dead letters queued again (see {@link DestinationRpc.enqueue}). `retryRefused`: repairs someone asked for
 * (`POST …/reconcile`: the cause was fixed) are sent even when they restate what the vendor refused for good; the
 * cron's own repairs are not (see `refusals.ts`).
 */
export interface EnqueueOptions {
  replay?: boolean;
  retryRefused?: boolean;
}

export interface DestinationRpc {
  /**
   * Queues operations (coalesced; stale ones dropped). `replay`: they are dead letters queued again, so a repair
   * among them is stale too once something newer was synced (a repair from reconciliation restates the current seq).
   */
  enqueue(destinationId: string, ops: SyncOp[], options?: EnqueueOptions): Promise<{ queued: number }>;
  /** Operations waiting to be sent. */
  pendingCount(): Promise<number>;
  /** What the API shows of the sync: operations waiting, and when a pause for refused credentials ends (or null). */
  syncState(): Promise<{ pending: number; authPausedUntil: number | null }>;
  /**
   * Ends a pause the vendor's refusal of the credentials started, and sends what waits now rather than when the pause
   * would have ended: the credentials were fixed (its config changed, or a test of it succeeded), or the user asked to
   * try now (a reconciliation). A vendor that still refuses starts another pause.
   */
  endAuthPause(destinationId: string): Promise<void>;
  /** Looks at the destination again now: resumes sending after it was enabled. */
  wake(destinationId: string): Promise<void>;
  /**
   * The destination is being deleted: everything this object holds goes now — its queue, each synced member's email
   * and traits, the plugin's tokens and list ids — and from now on it takes nothing more (operations the queue still
   * delivers, a reconciliation, a restatement) and sends nothing. Called before the destination's row goes, so a
   * failure leaves the row for a retry to find; idempotent. A later GDPR erase only reaches destinations that still
   * exist.
   */
  forget(destinationId: string): Promise<void>;
  /** Reads the vendor's engagement since the saved cursor and stores it as events (the cron calls it). */
  poll(destinationId: string): Promise<{ stored: number; unmatched: number }>;
  /**
   * Repairs drift between intended and synced membership, examining about `budget` rows from `cursor` (an
   * {@link encodePosition} cursor; undefined: the start). Answers what it queued and where to resume (null: done).
   * `retryRefused`: asked for by someone (the API), so what the vendor refused for good is asked again too.
   */
  reconcile(
    destinationId: string,
    cursor: string | undefined,
    budget: number,
    options?: Pick<EnqueueOptions, "retryRefused">,
  ): Promise<ReconcileResult>;
  /**
   * One cron tick of reconciliation, resuming where the last tick stopped and starting over once done; and one step of
   * restating traits the destination gained, while there are some (see {@link DestinationRpc.restateTraits}).
   */
  reconcileTick(destinationId: string): Promise<ReconcileResult>;
  /**
   * The destination now selects `traits` besides those its members were sent with: the cron's ticks restate them to
   * every member the vendor lists, a bounded step each (see `trait-restatement.ts`). Should this call fail, the next
   * tick finds them gained by itself.
   */
  restateTraits(destinationId: string, traits: string[]): Promise<void>;
}

export interface ReconcileResult {
  queued: number;
  examined: number;
  next: string | null;
}

export class DestinationDO extends DurableObject<Env> implements DestinationRpc {
  private readonly sql: SqlStorage;
  /** The pace of calls to the vendor (in memory: lost on eviction, which only resets the window). */
  private gate: VendorGate | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.storage.transactionSync(() => {
      this.sql.exec(SCHEMA);
      this.sql.exec(REFUSALS_SCHEMA);
      this.sql.exec(VENDOR_JOBS_SCHEMA);
      migrateSynced(this.sql);
    });
  }

  /**
   * A GDPR delete of `profileId`: what still waits for the person and what this object remembers of them (the email
   * and traits of each membership) go, and a marker with neither stays in `synced` (no audience), so a membership
   * change the queue delivers late — the profile's own exits among them, as queues do not keep order — or a repair
   * never lists the person again after the vendor deleted them.
   */
  private forgetContact(profileId: string): void {
    this.sql.exec("DELETE FROM pending WHERE profile_id = ? AND audience != ''", profileId);
    this.sql.exec("DELETE FROM synced WHERE profile_id = ?", profileId);
    forgetRefusals(this.sql, profileId);
    forgetJobsOf(this.sql, profileId);
    this.sql.exec(
      "INSERT INTO synced (profile_id, audience, seq, member) VALUES (?, '', 0, 0) ON CONFLICT DO NOTHING",
      profileId,
    );
  }

  /** The gate of this destination's vendor, built from its plugin's limits. */
  private gateFor(plugin: DestinationPlugin<Record<string, unknown>>): VendorGate {
    this.gate ??= new VendorGate(plugin.limits);
    return this.gate;
  }

  async enqueue(destinationId: string, ops: SyncOp[], options: EnqueueOptions = {}): Promise<{ queued: number }> {
    if (this.forgotten()) return { queued: 0 };
    let queued = 0;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO identity (singleton, destination_id) VALUES (1, ?) ON CONFLICT DO NOTHING",
        destinationId,
      );
      for (const op of ops) {
        if (op.kind === "delete")
          for (const id of [op.profileId, ...(op.mergedProfileIds ?? [])]) this.forgetContact(id);
        else if (erasedHere(this.sql, op.profileId)) continue;
        const audience = opAudience(op);
        const seq = op.kind === "membership" ? op.seq : Number.MAX_SAFE_INTEGER;
        if (op.kind === "membership") {
          const row = this.sql
            .exec<{ seq: number; member: number }>(
              "SELECT seq, member FROM synced WHERE profile_id = ? AND audience = ?",
              op.profileId,
              audience,
            )
            .toArray()[0];
          const synced = row?.seq ?? -1;
          // Queues deliver late and twice, and dead letters are replayed late: what the vendor already has, or
          // something newer, is not sent again (DESIGN §7: a stale message never overwrites a newer state). A repair
          // restates the synced seq on purpose (the vendor drifted from it): only a replayed one older than it is stale.
          // A trait restatement is of the member listed at its seq: once anything newer was synced, that says it.
          const stale = op.restate
            ? row?.member !== 1 || synced !== seq
            : op.repair
              ? options.replay === true && synced > seq
              : synced >= seq;
          if (stale) continue;
          // A replay is someone saying "try again" (the cause was fixed): what the vendor refused is asked afresh, and
          // reconciliation may repair it again should the replay fail for a passing reason.
          if (options.replay || (options.retryRefused && op.repair)) clearRefusal(this.sql, op.profileId, audience);
          // Reconciliation restating what the vendor refused for good: it would refuse it again, every minute.
          else if (op.repair && wasRefused(this.sql, op)) continue;
        }
        if (op.kind === "membership" && op.repair) {
          // A repair never replaces what waits already: that operation came from the profile and is newer.
          const written = this.sql
            .exec(
              `INSERT INTO pending (profile_id, audience, seq, op, attempts, not_before) VALUES (?, ?, ?, ?, 0, 0)
               ON CONFLICT (profile_id, audience) DO NOTHING RETURNING 1`,
              op.profileId,
              audience,
              seq,
              JSON.stringify(op),
            )
            .toArray();
          if (written.length > 0) queued++;
          continue;
        }
        const written = this.sql
          .exec(
            `INSERT INTO pending (profile_id, audience, seq, op, attempts, not_before) VALUES (?1, ?2, ?3, ?4, 0, 0)
             ON CONFLICT (profile_id, audience) DO UPDATE SET seq = ?3, op = ?4, attempts = 0, not_before = 0
             WHERE ?3 > pending.seq
             RETURNING 1`,
            op.profileId,
            audience,
            seq,
            JSON.stringify(op),
          )
          .toArray();
        if (written.length > 0) queued++;
      }
    });
    if (queued > 0) await this.armAlarm(Date.now());
    return { queued };
  }

  async wake(destinationId: string): Promise<void> {
    this.sql.exec(
      "INSERT INTO identity (singleton, destination_id) VALUES (1, ?) ON CONFLICT DO NOTHING",
      destinationId,
    );
    const pending = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM pending").one().n;
    if (pending > 0) await this.armAlarm(Date.now());
    else {
      const jobCheck = nextJobCheck(this.sql);
      if (jobCheck !== null) await this.armAlarm(jobCheck);
    }
  }

  async forget(destinationId: string): Promise<void> {
    this.sql.exec(
      "INSERT INTO identity (singleton, destination_id) VALUES (1, ?) ON CONFLICT DO NOTHING",
      destinationId,
    );
    this.sql.exec("INSERT INTO forgotten (singleton) VALUES (1) ON CONFLICT DO NOTHING");
    this.wipe();
    // A drain already under way (it read the destination before it was deleted) settles its calls after this wipe;
    // the alarm, which never runs beside another, comes after it and wipes again.
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** Whether {@link forget} was called: the destination is deleted, or being deleted. */
  private forgotten(): boolean {
    return this.sql.exec("SELECT 1 FROM forgotten").toArray().length > 0;
  }

  /** Drops everything this object holds but its destination's id and whether it was forgotten (see {@link forget}). */
  private wipe(): void {
    this.ctx.storage.transactionSync(() =>
      this.sql.exec(
        "DELETE FROM pending; DELETE FROM synced; DELETE FROM kv; DELETE FROM refused; DELETE FROM awaiting_jobs; " +
          "DELETE FROM job_waits;",
      ),
    );
  }

  async syncState(): Promise<{ pending: number; authPausedUntil: number | null }> {
    return { pending: await this.pendingCount(), authPausedUntil: await authPausedUntil(this.sql) };
  }

  async endAuthPause(destinationId: string): Promise<void> {
    await clearAuthPause(this.sql);
    // As `wake`: due rows (all of them, once the pause is gone) get an alarm now.
    await this.wake(destinationId);
  }

  async pendingCount(): Promise<number> {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM pending").one().n;
  }

  /**
   * Reads the vendor's engagement since the saved cursor (a few pages per call, the cron comes back every minute),
   * stores it as events, and saves the cursor once they are stored: a failure re-reads, and the message ids dedupe.
   * Out of room for more profiles, it stops with the cursor before the page it could not store, so the next poll
   * reads that page again rather than a backlog of it growing in the ingest retry queue.
   */
  async poll(destinationId: string): Promise<{ stored: number; unmatched: number }> {
    if (this.forgotten()) return { stored: 0, unmatched: 0 };
    const destination = await findDestinationById(this.env.DB, destinationId);
    const poller = destination?.enabled ? pollerFor(destination.type) : undefined;
    const plugin = destination ? pluginFor(destination.type) : undefined;
    if (!destination || !poller || !plugin) return { stored: 0, unmatched: 0 };
    const ctx = pluginContext(this.sql, destination, this.gateFor(plugin));
    let cursor = destination.pollCursor ?? undefined;
    const total = { stored: 0, unmatched: 0 };
    for (let page = 0; page < MAX_POLL_PAGES; page++) {
      const result = await poller.poll(ctx, cursor);
      const stored = await storeEngagements(this.env, destination, result.engagements, { onOverload: "push-back" });
      if (!stored.ok) {
        console.warn(
          `polling engagement of ${destination.id}: out of room for more profiles; the next poll reads again`,
        );
        break;
      }
      const { report } = stored;
      total.stored += report.stored;
      total.unmatched += report.unmatched;
      cursor = result.cursor;
      await savePollCursor(this.env.DB, destination.id, cursor);
      if (!result.more) break;
    }
    return total;
  }

  async reconcile(
    destinationId: string,
    cursor: string | undefined,
    budget: number,
    options: Pick<EnqueueOptions, "retryRefused"> = {},
  ): Promise<ReconcileResult> {
    return this.reconcileOf(
      destinationId,
      await findDestinationById(this.env.DB, destinationId),
      cursor,
      budget,
      options,
    );
  }

  /** {@link reconcile} of the destination as D1 has it (`destination`: read by the caller). */
  private async reconcileOf(
    destinationId: string,
    destination: DestinationRow | undefined,
    cursor: string | undefined,
    budget: number,
    options: Pick<EnqueueOptions, "retryRefused"> = {},
  ): Promise<ReconcileResult> {
    if (!destination?.enabled) return { queued: 0, examined: 0, next: null };
    const audiences = JSON.parse(destination.audiences) as string[];
    // A cursor of audiences the destination no longer syncs starts over (the API refuses it before calling).
    const from = cursor === undefined ? undefined : decodePosition(cursor, audiences);
    const step = await reconcileStep(this.env, this.sql, destination, from, budget);
    const { queued } = step.ops.length > 0 ? await this.enqueue(destinationId, step.ops, options) : { queued: 0 };
    return { queued, examined: step.examined, next: step.next ? encodePosition(step.next) : null };
  }

  async reconcileTick(destinationId: string): Promise<ReconcileResult> {
    // Its cursor and a restatement's walk would be kept in the kv `forget` emptied.
    if (this.forgotten()) return { queued: 0, examined: 0, next: null };
    const kv = kvStore(this.sql);
    // One read of the destination serves both tasks of the tick.
    const destination = await findDestinationById(this.env.DB, destinationId);
    const cursor = await kv.get(RECONCILE_CURSOR_KEY);
    const result = await this.reconcileOf(destinationId, destination, cursor, RECONCILE_ROWS_PER_TICK);
    if (result.next === null) this.sql.exec("DELETE FROM kv WHERE key = ?", RECONCILE_CURSOR_KEY);
    else await kv.put(RECONCILE_CURSOR_KEY, result.next);
    // A disabled destination's walk waits.
    if (destination?.enabled) await this.restateTick(destination);
    // A `forget` that ran while this tick read D1 wiped what it had written so far, not what it wrote after.
    if (this.forgotten()) this.wipe();
    return result;
  }

  async restateTraits(destinationId: string, traits: string[]): Promise<void> {
    if (this.forgotten()) return;
    this.sql.exec(
      "INSERT INTO identity (singleton, destination_id) VALUES (1, ?) ON CONFLICT DO NOTHING",
      destinationId,
    );
    await startRestatement(kvStore(this.sql), traits);
  }

  /**
   * One step of the walk restating gained traits: the one under way, or one for traits the destination selects that
   * its members were not sent with (whoever changed them, and whether or not their call of `restateTraits` got here).
   */
  private async restateTick(destination: DestinationRow): Promise<void> {
    const destinationId = destination.id;
    const kv = kvStore(this.sql);
    await restateSelected(kv, JSON.parse(destination.traits) as string[]);
    const saved = await kv.get(RESTATEMENT_KEY);
    if (saved === undefined) return;
    const walk = JSON.parse(saved) as TraitWalk;
    const step = await restateStep(this.env, this.sql, destination, walk, RESTATE_ROWS_PER_TICK);
    if (step.ops.length > 0) await this.enqueue(destinationId, step.ops);
    // More traits gained while this step read profiles: that walk starts over and stays.
    if ((await kv.get(RESTATEMENT_KEY)) !== saved) return;
    if (step.next) await kv.put(RESTATEMENT_KEY, JSON.stringify({ ...walk, at: step.next } satisfies TraitWalk));
    else this.sql.exec("DELETE FROM kv WHERE key = ?", RESTATEMENT_KEY);
  }

  /** Drains what is due, then sets the alarm for what is left. */
  async alarm(): Promise<void> {
    const destinationId = this.sql
      .exec<{ id: string }>("SELECT destination_id AS id FROM identity WHERE singleton = 1")
      .toArray()[0]?.id;
    if (!destinationId) return;
    const destination = this.forgotten() ? undefined : await findDestinationById(this.env.DB, destinationId);
    if (!destination) {
      // Deleted, or being deleted: nothing of it may be sent any more, nor kept (what came after `forget`: a late
      // queue message, the end of a drain under way).
      this.wipe();
      return;
    }
    // A disabled destination keeps its queue; enabling it again resumes (the API's PUT wakes the object).
    if (!destination.enabled) return;
    const plugin = pluginFor(destination.type);
    if (!plugin) {
      console.error(`destination ${destinationId} has unknown type ${destination.type}`);
      return;
    }
    let retryAt = Date.now();
    try {
      await new Drain(this.sql, this.env, destination, plugin, this.gateFor(plugin)).run();
    } catch (err) {
      // A bug or an unreachable D1 must not leave the queue without an alarm: what is pending stays and is retried.
      console.error(`draining ${destinationId} failed; retrying`, err);
      retryAt += DRAIN_FAILURE_RETRY_MS;
    }
    const due = this.sql.exec<{ at: number | null }>("SELECT min(not_before) AS at FROM pending").one().at;
    // Jobs a vendor still runs for items it took are looked at again too (see `vendor-jobs.ts`).
    const jobCheck = nextJobCheck(this.sql);
    const next = due === null ? jobCheck : jobCheck === null ? due : Math.min(due, jobCheck);
    if (next !== null) await this.armAlarm(Math.max(next, retryAt));
  }

  private async armAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}
