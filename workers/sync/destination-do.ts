/**
 * DestinationDO: one Durable Object per destination, the scheduler and limiter of everything sent to that vendor
 * (DESIGN §7, maps.md §4.1). The sync queue consumer hands it operations; it keeps them in its SQLite, coalesced
 * (the newest `seq` per profile and audience wins, and an operation no newer than what was already synced is
 * dropped), and drains them from its alarm: chunked to the plugin's limits, with at most `limits.concurrency`
 * requests in flight and `limits.rate` per window (see `vendor-gate.ts`), paused on the vendor's throttling signal,
 * retried with backoff, dead-lettered in D1 when they fail for good. Each drain writes the sync log, vendor ids and
 * counters to D1 in one batch. A drain takes each audience's work in whole vendor batches (see `due-rows.ts`) and
 * upserts a contact once however many of its audiences changed. A member whose synced traits changed is upserted,
 * not listed again; one whose email changed is listed under the new email and removed under the old one; the cron's
 * reconciliation (see `reconcile.ts`) repairs drift between intended and synced membership.
 */
import { DurableObject } from "cloudflare:workers";
import pLimit, { type LimitFunction } from "p-limit";
import { type DestinationRow, findDestinationById } from "../../d1/queries/destinations";
import {
  type DrainRecord,
  emptyDrainRecord,
  findVendorIds,
  recordDrain,
  savePollCursor,
} from "../../d1/queries/sync-records";
import { dueRows, type PendingRow } from "./due-rows";
import { storeEngagements } from "./engagement";
import {
  AuthRefused,
  type ContactIdentity,
  type DestinationPlugin,
  type MembershipOp,
  type Outcome,
  type PluginContext,
  Throttled,
} from "./plugin";
import { decodePosition, encodePosition, reconcileStep } from "./reconcile";
import { pluginFor, pollerFor } from "./registry";
import { MAX_ATTEMPTS, retryDelayMs } from "./retry-schedule";
import { type MembershipSyncOp, opAudience, type SyncOp } from "./sync-op";
import { VendorGate } from "./vendor-gate";

/** Pages an engagement poll reads per call. */
const MAX_POLL_PAGES = 10;
/** Operations taken per drain; the alarm comes back for the rest. */
const DRAIN_ROWS = 1000;
/** After the vendor refused the credentials, wait this long before trying again (someone must fix the config). */
const AUTH_PAUSE_MS = 5 * 60_000;
/** After a drain failed unexpectedly, the next one waits this long. */
const DRAIN_FAILURE_RETRY_MS = 5_000;
/** A drain starts no new vendor call after this long: it records what it did and the alarm comes straight back. */
const DRAIN_BUDGET_MS = 10_000;
/** Rows a cron tick's reconciliation examines per destination: a million-member audience takes many ticks. */
export const RECONCILE_ROWS_PER_TICK = 5_000;
/** Where the cron's reconciliation resumes (`kv`). */
const RECONCILE_CURSOR_KEY = "reconcile:cursor";

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

interface SyncedRow extends Record<string, SqlStorageValue> {
  member: number;
  email: string | null;
  traits: string | null;
}

/** What the engine and the API ask a destination's object. */
export interface DestinationRpc {
  /** Queues operations (coalesced; stale ones dropped unless `force`, as a dead-letter replay is). */
  enqueue(destinationId: string, ops: SyncOp[], options?: { force?: boolean }): Promise<{ queued: number }>;
  /** Operations waiting to be sent. */
  pendingCount(): Promise<number>;
  /** Looks at the destination again now: resumes sending after it was enabled, or drops everything once deleted. */
  wake(destinationId: string): Promise<void>;
  /** Reads the vendor's engagement since the saved cursor and stores it as events (the cron calls it). */
  poll(destinationId: string): Promise<{ stored: number; unmatched: number }>;
  /**
   * Repairs drift between intended and synced membership, examining about `budget` rows from `cursor` (an
   * {@link encodePosition} cursor; undefined: the start). Answers what it queued and where to resume (null: done).
   */
  reconcile(destinationId: string, cursor: string | undefined, budget: number): Promise<ReconcileResult>;
  /** One cron tick of reconciliation, resuming where the last tick stopped and starting over once done. */
  reconcileTick(destinationId: string): Promise<ReconcileResult>;
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
    this.sql.exec(
      "INSERT INTO synced (profile_id, audience, seq, member) VALUES (?, '', 0, 0) ON CONFLICT DO NOTHING",
      profileId,
    );
  }

  /** Whether a GDPR delete of `profileId` came here (see {@link forgetContact}). */
  private erased(profileId: string): boolean {
    return this.sql.exec("SELECT 1 FROM synced WHERE profile_id = ? AND audience = ''", profileId).toArray().length > 0;
  }

  /** The gate of this destination's vendor, built from its plugin's limits. */
  private gateFor(plugin: DestinationPlugin<Record<string, unknown>>): VendorGate {
    this.gate ??= new VendorGate(plugin.limits);
    return this.gate;
  }

  async enqueue(destinationId: string, ops: SyncOp[], options: { force?: boolean } = {}): Promise<{ queued: number }> {
    let queued = 0;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO identity (singleton, destination_id) VALUES (1, ?) ON CONFLICT DO NOTHING",
        destinationId,
      );
      for (const op of ops) {
        if (op.kind === "delete") this.forgetContact(op.profileId);
        else if (this.erased(op.profileId)) continue;
        const audience = opAudience(op);
        const seq = op.kind === "membership" ? op.seq : Number.MAX_SAFE_INTEGER;
        if (op.kind === "membership" && op.repair && !options.force) {
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
        if (!options.force && op.kind === "membership") {
          const synced = this.sql
            .exec<{ seq: number }>(
              "SELECT seq FROM synced WHERE profile_id = ? AND audience = ?",
              op.profileId,
              audience,
            )
            .toArray()[0];
          // Queues deliver late and twice: what the vendor already has (or something newer) is not sent again.
          if (synced && synced.seq >= seq) continue;
        }
        const written = this.sql
          .exec(
            `INSERT INTO pending (profile_id, audience, seq, op, attempts, not_before) VALUES (?1, ?2, ?3, ?4, 0, 0)
             ON CONFLICT (profile_id, audience) DO UPDATE SET seq = ?3, op = ?4, attempts = 0, not_before = 0
             WHERE ?3 > pending.seq OR ?5 = 1
             RETURNING 1`,
            op.profileId,
            audience,
            seq,
            JSON.stringify(op),
            options.force ? 1 : 0,
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
  }

  async pendingCount(): Promise<number> {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM pending").one().n;
  }

  /**
   * Reads the vendor's engagement since the saved cursor (a few pages per call, the cron comes back every minute),
   * stores it as events, and saves the cursor once they are stored: a failure re-reads, and the message ids dedupe.
   */
  async poll(destinationId: string): Promise<{ stored: number; unmatched: number }> {
    const destination = await findDestinationById(this.env.DB, destinationId);
    const poller = destination?.enabled ? pollerFor(destination.type) : undefined;
    const plugin = destination ? pluginFor(destination.type) : undefined;
    if (!destination || !poller || !plugin) return { stored: 0, unmatched: 0 };
    const ctx = pluginContext(this.sql, destination, this.gateFor(plugin));
    let cursor = destination.pollCursor ?? undefined;
    const total = { stored: 0, unmatched: 0 };
    for (let page = 0; page < MAX_POLL_PAGES; page++) {
      const result = await poller.poll(ctx, cursor);
      const report = await storeEngagements(this.env, destination, result.engagements);
      total.stored += report.stored;
      total.unmatched += report.unmatched;
      cursor = result.cursor;
      await savePollCursor(this.env.DB, destination.id, cursor);
      if (!result.more) break;
    }
    return total;
  }

  async reconcile(destinationId: string, cursor: string | undefined, budget: number): Promise<ReconcileResult> {
    const destination = await findDestinationById(this.env.DB, destinationId);
    if (!destination?.enabled) return { queued: 0, examined: 0, next: null };
    const audiences = JSON.parse(destination.audiences) as string[];
    // A cursor of audiences the destination no longer syncs starts over (the API refuses it before calling).
    const from = cursor === undefined ? undefined : decodePosition(cursor, audiences);
    const step = await reconcileStep(this.env, this.sql, destination, from, budget);
    const { queued } = step.ops.length > 0 ? await this.enqueue(destinationId, step.ops) : { queued: 0 };
    return { queued, examined: step.examined, next: step.next ? encodePosition(step.next) : null };
  }

  async reconcileTick(destinationId: string): Promise<ReconcileResult> {
    const kv = kvStore(this.sql);
    const result = await this.reconcile(destinationId, await kv.get(RECONCILE_CURSOR_KEY), RECONCILE_ROWS_PER_TICK);
    if (result.next === null) this.sql.exec("DELETE FROM kv WHERE key = ?", RECONCILE_CURSOR_KEY);
    else await kv.put(RECONCILE_CURSOR_KEY, result.next);
    return result;
  }

  /** Drains what is due, then sets the alarm for what is left. */
  async alarm(): Promise<void> {
    const destinationId = this.sql
      .exec<{ id: string }>("SELECT destination_id AS id FROM identity WHERE singleton = 1")
      .toArray()[0]?.id;
    if (!destinationId) return;
    const destination = await findDestinationById(this.env.DB, destinationId);
    if (!destination) {
      // Deleted: nothing of it may be sent any more.
      this.sql.exec("DELETE FROM pending; DELETE FROM synced; DELETE FROM kv;");
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
    const next = this.sql.exec<{ at: number | null }>("SELECT min(not_before) AS at FROM pending").one().at;
    if (next !== null) await this.armAlarm(Math.max(next, retryAt));
  }

  private async armAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}

/** A membership item of a drain: its queued row, its operation, and what it means for the vendor now. */
interface MembershipItem {
  row: PendingRow;
  op: MembershipSyncOp;
  /** `upsert`: the contact is listed already and only its synced traits changed. */
  action: "add" | "remove" | "upsert";
  /** Who the vendor calls are about (an exit names the email the vendor lists, which may be a former one). */
  identity: ContactIdentity;
  /**
   * The contact the vendor lists for this profile under the email last sent, when the profile's email has changed
   * since: the list call that lists the new email removes this one (see {@link Drain.listChunk} for why).
   */
  former?: ContactIdentity;
}

type DeleteItem = { row: PendingRow; op: Extract<SyncOp, { kind: "delete" }>; action: "delete" };

/** One pass over the due operations of a destination. */
class Drain {
  private readonly record: DrainRecord;
  private readonly ctx: PluginContext<Record<string, unknown>>;
  private readonly deadline = Date.now() + DRAIN_BUDGET_MS;
  private readonly isMap: boolean;
  private pausedUntil = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly env: Env,
    private readonly destination: DestinationRow,
    private readonly plugin: DestinationPlugin<Record<string, unknown>>,
    private readonly gate: VendorGate,
  ) {
    this.record = emptyDrainRecord(Date.now());
    this.ctx = pluginContext(sql, destination, gate);
    this.isMap = plugin.type !== "webhook";
  }

  /**
   * Deletes and membership calls run side by side up to the plugin's concurrency (the gate holds every request to it
   * as well). The rows are taken in whole vendor batches per audience (see `due-rows.ts`).
   */
  async run(): Promise<void> {
    const rows = dueRows(this.sql, Date.now(), { batch: this.plugin.limits.membershipBatch, budget: DRAIN_ROWS });
    if (rows.length === 0) return;
    const slots = pLimit(Math.max(1, this.plugin.limits.concurrency));
    // Deletes have no audience ("") and go one by one.
    const deletes = rows.filter((row) => row.audience === "");
    const memberships = rows.filter((row) => row.audience !== "");
    await Promise.all([
      ...deletes.map((row) => slots(() => this.whileOpen(() => this.deleteOne(row)))),
      this.memberships(memberships, slots),
    ]);
    if (this.pausedUntil > 0) {
      this.sql.exec("UPDATE pending SET not_before = max(not_before, ?)", this.pausedUntil);
    }
    try {
      await recordDrain(this.env.DB, this.destination.id, this.record);
    } catch (err) {
      // The log is best effort: what was sent stays sent and what is pending stays pending.
      console.error(`recording the sync of ${this.destination.id} failed`, err);
    }
  }

  /** Runs `work` unless the destination is paused or the drain's time is up (the rows then wait for the next one). */
  private async whileOpen(work: () => Promise<void>): Promise<void> {
    if (this.pausedUntil > Date.now() || Date.now() > this.deadline) return;
    await work();
  }

  /**
   * The drain's membership changes, all audiences together. For a MAP, contacts entering a list are upserted first
   * (with the destination's traits, maps.md §4.1): the vendor may only list contacts it has, and the upsert returns
   * the vendor id that list calls need. Then each audience's list changes go out in the vendor's batches; an
   * audience's first chunk runs alone, so the vendor list it finds or creates is cached before the others look.
   */
  private async memberships(rows: PendingRow[], slots: LimitFunction): Promise<void> {
    const items = await this.sendable(rows);
    if (items.length === 0) return;
    const listing = await this.upsertContacts(items, slots);
    const byAudience = groupBy(listing, (item) => item.op.audience);
    await Promise.all(
      [...byAudience].map(async ([audience, group]) => {
        // A former email's removal rides in the same call, so it takes room in the vendor's batch too.
        const chunks = chunked(group, this.plugin.limits.membershipBatch, (item) => (item.former ? 2 : 1));
        const [first, ...rest] = chunks;
        await slots(() => this.whileOpen(() => this.listChunk(audience, first)));
        await Promise.all(rest.map((chunk) => slots(() => this.whileOpen(() => this.listChunk(audience, chunk)))));
      }),
    );
  }

  /**
   * What each row means for the vendor now, with the vendor ids known for its emails. A restatement of a member whose
   * synced traits did not change is settled without a call; a MAP item without an email is skipped (a listed member
   * whose email was removed is taken off the list first), and so is an exit whose email another profile keeps listed.
   */
  private async sendable(rows: PendingRow[]): Promise<MembershipItem[]> {
    const candidates: MembershipItem[] = [];
    for (const row of rows) {
      const op = JSON.parse(row.op) as MembershipSyncOp;
      const synced = this.sql
        .exec<SyncedRow>(
          "SELECT member, email, traits FROM synced WHERE profile_id = ? AND audience = ?",
          op.profileId,
          op.audience,
        )
        .toArray()[0];
      const listedAs = synced?.member === 1 ? (synced.email ?? undefined) : undefined;
      // A restatement of a membership the vendor has (the profile's traits changed): the same contact stays listed.
      const listed = op.member && !op.repair && synced?.member === 1 && synced.email === (op.email ?? null);
      if (listed && synced.traits === JSON.stringify(op.traits)) {
        this.settleUnchanged(row, op);
        continue;
      }
      // A member who lost their email while listed: a MAP lists contacts by email, so the one it lists leaves.
      const emailGone = this.isMap && op.member && !op.email && listedAs !== undefined;
      const action = listed ? "upsert" : op.member && !emailGone ? "add" : "remove";
      // An exit removes the contact the vendor lists: the email last sent, if the profile's has changed since.
      const email = action === "remove" ? (listedAs ?? op.email) : op.email;
      const item: MembershipItem = { row, op, action, identity: { profileId: op.profileId } };
      if (email) item.identity.email = email;
      if (this.isMap && action === "add" && listedAs && listedAs !== email) {
        item.former = { profileId: op.profileId, email: listedAs };
      }
      if (this.isMap && !email) this.settle(item, { status: "skip", reason: "the profile has no email" });
      else candidates.push(item);
    }
    const listing = new Set(
      candidates.flatMap((item) =>
        item.action !== "remove" && item.identity.email ? [`${item.op.audience}\n${item.identity.email}`] : [],
      ),
    );
    for (const item of candidates) {
      if (item.former && this.stillListed(item, item.former.email as string, listing)) delete item.former;
    }
    const items = candidates.filter((item) => {
      const email = item.identity.email;
      if (!this.isMap || item.action !== "remove" || !email || !this.stillListed(item, email, listing)) return true;
      this.settle(item, { status: "skip", reason: `${email} stays listed for another profile with that email` });
      return false;
    });
    const emails = items.flatMap((item) => [item.identity.email, item.former?.email]).filter((e) => e !== undefined);
    const known = await findVendorIds(this.env.DB, this.destination.id, [...new Set(emails)]);
    for (const identity of items.flatMap((item) => [item.identity, item.former])) {
      const vendorId = identity?.email ? known.get(identity.email) : undefined;
      if (identity && vendorId) identity.vendorId = vendorId;
    }
    return items;
  }

  /**
   * Whether `email` must stay in the item's list for another profile: a MAP lists contacts by email, and two
   * profiles can share one, as a merge's loser and survivor do until the loser's exit. That one's exit must not take
   * the survivor off the list, whichever of the two the vendor hears first. `listing`: this drain's entries.
   */
  private stillListed(item: MembershipItem, email: string, listing: Set<string>): boolean {
    if (listing.has(`${item.op.audience}\n${email}`)) return true;
    return (
      this.sql
        .exec(
          "SELECT 1 FROM synced WHERE audience = ? AND email = ? AND member = 1 AND profile_id != ? LIMIT 1",
          item.op.audience,
          email,
          item.op.profileId,
        )
        .toArray().length > 0
    );
  }

  /**
   * Upserts the contacts these items need at the vendor and answers the items that go on to a list call. A contact is
   * upserted once, with its newest operation's traits, however many of its audiences changed: a trait change
   * restates every membership of the profile, and the vendor has one contact. An item whose upsert did not succeed
   * settles with that outcome; a member already listed (`upsert`) is done with it.
   */
  private async upsertContacts(items: MembershipItem[], slots: LimitFunction): Promise<MembershipItem[]> {
    // The webhook hears entries and exits as such; a MAP must have the contact before listing it (unless an earlier
    // attempt upserted it and its vendor id is known).
    const needsUpsert = (item: MembershipItem) =>
      item.action === "upsert" ||
      (this.isMap && item.action === "add" && !(item.op.upserted && item.identity.vendorId));
    const ready = items.filter((item) => !needsUpsert(item));
    const contacts = [
      ...groupBy(items.filter(needsUpsert), (item) => `${item.op.profileId}\n${item.identity.email ?? ""}`).values(),
    ];
    const chunks = chunked(contacts, this.plugin.limits.upsertBatch, () => 1);
    await Promise.all(
      chunks.map((chunk) =>
        slots(() =>
          this.whileOpen(async () => {
            const newest = chunk.map((contact) => contact.reduce((a, b) => (b.op.seq > a.op.seq ? b : a)));
            const upserted = await this.call(chunk.flat(), newest.length, () =>
              this.plugin.upsertContacts(
                this.ctx,
                newest.map(({ identity, op }) => ({ identity, traits: op.traits, profile: op.profile, at: op.at })),
              ),
            );
            // Paced or throttled: the whole chunk waits for the next drain, nothing half-done.
            if (!upserted) return;
            for (const [k, contact] of chunk.entries()) {
              const outcome = upserted[k];
              for (const item of contact) {
                if (outcome.status !== "ok" || item.action === "upsert") {
                  this.settle(item, outcome);
                  continue;
                }
                if (outcome.vendorId) {
                  item.identity.vendorId = outcome.vendorId;
                  this.markUpserted(item);
                }
                ready.push(item);
              }
              const email = contact[0].identity.email;
              if (outcome.status === "ok" && outcome.vendorId && email) {
                this.record.vendorIds.push({ email, vendorId: outcome.vendorId });
              }
            }
          }),
        ),
      ),
    );
    return ready;
  }

  /**
   * One chunk of an audience's list changes. A member whose email changed since it was listed is listed under the
   * new email and removed under the former one in the same call. The same for every MAP: HubSpot, Klaviyo and Marketo
   * could rename the record by its vendor id instead (PATCH by record id / profile id, `updateOnly` by lead id), but
   * the new email is often a contact there already (a merge, a second sign-up), and the rename then fails on the
   * duplicate (HubSpot 409, Klaviyo `duplicate_profile`, Marketo 1005/1007) while the old contact stays listed;
   * Mailchimp keys members and segments by email, so remove-and-add is its only way. Upserting the new email and
   * swapping the list entries always converges, and the former contact keeps its history at the vendor.
   */
  private async listChunk(audience: string, chunk: MembershipItem[]): Promise<void> {
    const formers = chunk.filter((item) => item.former);
    const ops: MembershipOp[] = [
      ...chunk.map(({ identity, op, action }) => ({
        identity,
        member: action !== "remove",
        traits: op.traits,
        profile: op.profile,
        at: op.at,
      })),
      ...formers.map(({ former, op }) => ({
        identity: former as ContactIdentity,
        member: false,
        profile: op.profile,
        at: op.at,
      })),
    ];
    const outcomes = await this.call(chunk, ops.length, () =>
      this.plugin.applyMemberships(this.ctx, { key: audience, name: `tessera_${audience}` }, ops),
    );
    if (!outcomes) return;
    const removals = new Map(formers.map((item, j) => [item, outcomes[chunk.length + j]]));
    for (const [k, item] of chunk.entries()) {
      const removal = removals.get(item);
      this.settle(item, removal ? withFormerRemoved(outcomes[k], removal) : outcomes[k]);
    }
  }

  private async deleteOne(row: PendingRow): Promise<void> {
    const op = JSON.parse(row.op) as Extract<SyncOp, { kind: "delete" }>;
    const identity: ContactIdentity = { profileId: op.profileId };
    if (op.email) identity.email = op.email;
    const item: DeleteItem = { row, op, action: "delete" };
    const outcomes = await this.call([item], 1, async () => [await this.plugin.deleteContact(this.ctx, identity)]);
    if (outcomes) this.settle(item, outcomes[0]);
  }

  /**
   * Runs one plugin call about `items`, which expects `n` outcomes, turning batch-level signals into per-item
   * outcomes: `AuthRefused` pauses the destination and retries the items later, anything else retries them with a
   * backoff. Null when the vendor's window is full (nothing was sent: the items wait for it to open, as the gate would
   * hold every request that long) or the vendor throttled the call (`Throttled`: the destination pauses as long as the
   * vendor asked, and the sync log says so).
   */
  private async call(items: Array<MembershipItem | DeleteItem>, n: number, send: () => Promise<Outcome[]>) {
    const wait = this.gate.waitMs();
    if (wait > 0) {
      // Not sent, so not an attempt: the items wait in the queue for the window to open.
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + wait);
      return null;
    }
    try {
      const outcomes = await send();
      if (outcomes.length !== n)
        throw new Error(`plugin ${this.plugin.type} answered ${outcomes.length} outcomes for ${n} items`);
      return outcomes;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (err instanceof Throttled) {
        // The vendor said when to come back: the items wait for it without spending an attempt, so a 429 storm of
        // any length dead-letters nothing.
        const resumesAt = Date.now() + err.retryAfterMs;
        this.pausedUntil = Math.max(this.pausedUntil, resumesAt);
        this.logThrottled(items, reason, resumesAt);
        return null;
      }
      this.record.lastError = reason;
      if (err instanceof AuthRefused) {
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + AUTH_PAUSE_MS);
        return Array.from({ length: n }, () => ({ status: "retry", reason, retryAfterMs: AUTH_PAUSE_MS }) as Outcome);
      }
      return Array.from({ length: n }, () => ({ status: "retry", reason }) as Outcome);
    }
  }

  /**
   * The vendor's throttling in the sync log: a `retry` per item with the vendor's reason and when sending resumes.
   * DESIGN §7's status has no throttle counter and a throttle is not an error, so only the log records it; the items
   * spent no attempt (`attempts` stays what it was).
   */
  private logThrottled(items: Array<MembershipItem | DeleteItem>, reason: string, resumesAt: number): void {
    const error = `throttled: ${reason}; resumes at ${new Date(resumesAt).toISOString()}`;
    for (const { row, op, action } of items) {
      this.record.log.push({
        destinationId: this.destination.id,
        at: Date.now(),
        profileId: op.profileId,
        audience: op.kind === "membership" ? op.audience : null,
        action,
        attempts: row.attempts,
        outcome: "retry",
        error,
      });
    }
  }

  /** Remembers on the queued row that its contact is at the vendor, so a retry of its list call skips the upsert. */
  private markUpserted(item: MembershipItem): void {
    item.op.upserted = true;
    item.row.op = JSON.stringify(item.op);
    this.sql.exec(
      "UPDATE pending SET op = ? WHERE profile_id = ? AND audience = ? AND seq = ?",
      item.row.op,
      item.row.profile_id,
      item.row.audience,
      item.row.seq,
    );
  }

  /** A restatement with nothing new for the vendor: done without a call, remembered at its seq. */
  private settleUnchanged(row: PendingRow, op: MembershipSyncOp): void {
    this.sql.exec(
      "DELETE FROM pending WHERE profile_id = ? AND audience = ? AND seq = ?",
      row.profile_id,
      row.audience,
      row.seq,
    );
    this.sql.exec(
      "UPDATE synced SET seq = max(seq, ?) WHERE profile_id = ? AND audience = ?",
      op.seq,
      op.profileId,
      op.audience,
    );
  }

  /** Applies one item's outcome: done (synced or dead-lettered) or back in the queue with a backoff. */
  private settle(item: MembershipItem | DeleteItem, outcome: Outcome): void {
    const { row, op, action } = item;
    const attempts = row.attempts + 1;
    const base = {
      destinationId: this.destination.id,
      at: Date.now(),
      profileId: op.profileId,
      audience: op.kind === "membership" ? op.audience : null,
      action,
      attempts,
    } as const;
    if (outcome.status === "retry" && attempts < MAX_ATTEMPTS) {
      const backoff = outcome.retryAfterMs ?? retryDelayMs(attempts);
      this.sql.exec(
        "UPDATE pending SET attempts = ?, not_before = ? WHERE profile_id = ? AND audience = ? AND seq = ?",
        attempts,
        Date.now() + backoff,
        row.profile_id,
        row.audience,
        row.seq,
      );
      this.record.log.push({ ...base, outcome: "retry", error: outcome.reason });
      return;
    }
    // Done with this row either way; a newer operation queued meanwhile (higher seq) stays.
    this.sql.exec(
      "DELETE FROM pending WHERE profile_id = ? AND audience = ? AND seq = ?",
      row.profile_id,
      row.audience,
      row.seq,
    );
    if (outcome.status === "ok" || outcome.status === "skip") {
      if (op.kind === "membership") {
        // A repair states what is true now whatever seq it carries; a newer real change still wins over it.
        this.sql.exec(
          `INSERT INTO synced (profile_id, audience, seq, member, email, traits) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
           ON CONFLICT (profile_id, audience) DO UPDATE
             SET seq = max(synced.seq, ?3), member = ?4, email = ?5, traits = ?6
           WHERE ?3 > synced.seq OR ?7 = 1`,
          op.profileId,
          op.audience,
          op.seq,
          op.member ? 1 : 0,
          op.email ?? null,
          JSON.stringify(op.traits),
          op.repair ? 1 : 0,
        );
      }
      if (outcome.status === "ok") {
        this.record.delivered++;
        if (op.kind === "delete") {
          // The vendor deleted the person: the ids it knew them by go too (the emails are personal data).
          for (const id of op.identifiers) if (id.type === "email") this.record.staleVendorIds.push(id.value);
        } else if (outcome.vendorId && op.email) {
          this.record.vendorIds.push({ email: op.email, vendorId: outcome.vendorId });
        }
        this.record.log.push({ ...base, outcome: "ok", error: null });
      } else {
        this.record.log.push({ ...base, outcome: "skip", error: outcome.reason });
      }
      return;
    }
    const error =
      outcome.status === "fail"
        ? `${outcome.code}: ${outcome.message}`
        : `gave up after ${attempts} attempts: ${outcome.reason}`;
    this.record.failed++;
    this.record.lastError = error;
    // The vendor no longer knows the id we remembered: a replay must look the contact up by email again.
    if (outcome.status === "fail" && outcome.code === "not_found" && op.email) {
      this.record.staleVendorIds.push(op.email);
    }
    this.record.deadLetters.push({ profileId: op.profileId, op: JSON.stringify(op), error });
    this.record.log.push({ ...base, outcome: "fail", error });
  }
}

/** Items grouped by `key`, in first-seen order. */
function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** Consecutive chunks of `items` whose `weight`s add up to at most `size` each (an item heavier than that alone). */
function chunked<T>(items: T[], size: number, weight: (item: T) => number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let load = 0;
  for (const item of items) {
    const w = weight(item);
    if (current.length > 0 && load + w > size) {
      chunks.push(current);
      current = [];
      load = 0;
    }
    current.push(item);
    load += w;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * A listing's outcome once its former email's removal is known: a removal to retry retries the item (adding again is
 * harmless), one that failed for good fails it (the former email would stay listed), except when the vendor no
 * longer has that contact, which is the state the removal wanted.
 */
function withFormerRemoved(listing: Outcome, removal: Outcome): Outcome {
  if (removal.status === "retry") return removal;
  if (removal.status === "fail" && removal.code !== "not_found" && listing.status === "ok") return removal;
  return listing;
}

/** The object's key-value table (tokens, list ids, the reconciliation cursor); an expired entry reads as absent. */
function kvStore(sql: SqlStorage): PluginContext<unknown>["store"] {
  return {
    get: async (key) => {
      const row = sql
        .exec<{ value: string; expires_at: number | null }>("SELECT value, expires_at FROM kv WHERE key = ?", key)
        .toArray()[0];
      return row && (row.expires_at === null || row.expires_at > Date.now()) ? row.value : undefined;
    },
    put: async (key, value, ttlMs) => {
      sql.exec(
        "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET value = ?2, expires_at = ?3",
        key,
        value,
        ttlMs === undefined ? null : Date.now() + ttlMs,
      );
    },
  };
}

/**
 * What a plugin or poller gets: the destination's config, `fetch` through the vendor's gate (every HTTP request
 * counts, not each plugin call: one membership change may be a list lookup, an upsert and a list update), the clock,
 * and the object's key-value store, so a cached token survives between drains and polls.
 */
function pluginContext(
  sql: SqlStorage,
  destination: DestinationRow,
  gate: VendorGate,
): PluginContext<Record<string, unknown>> {
  return {
    config: JSON.parse(destination.config) as Record<string, unknown>,
    destination: { id: destination.id, workspaceId: destination.workspaceId },
    fetch: gate.fetch,
    now: () => Date.now(),
    store: kvStore(sql),
  };
}
