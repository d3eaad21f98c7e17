/**
 * DestinationDO: one Durable Object per destination, the scheduler and limiter of everything sent to that vendor
 * (DESIGN §7, maps.md §4.1). The sync queue consumer hands it operations; it keeps them in its SQLite, coalesced
 * (the newest `seq` per profile and audience wins, and an operation no newer than what was already synced is
 * dropped), and drains them from its alarm: chunked to the plugin's limits, paced by a sliding window under the
 * vendor's rate limit, paused on the vendor's throttling signal, retried with backoff, dead-lettered in D1 when
 * they fail for good. Each drain writes the sync log, vendor ids and counters to D1 in one batch.
 */
import { DurableObject } from "cloudflare:workers";
import { type DestinationRow, findDestinationById } from "../../d1/queries/destinations";
import {
  type DrainRecord,
  emptyDrainRecord,
  findVendorIds,
  recordDrain,
  savePollCursor,
} from "../../d1/queries/sync-records";
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
import { pluginFor, pollerFor } from "./registry";
import { opAudience, type SyncOp } from "./sync-op";

/** Attempts before an operation that keeps being retried becomes a dead letter. */
export const MAX_ATTEMPTS = 8;
/** Pages an engagement poll reads per call. */
const MAX_POLL_PAGES = 10;
/** Operations taken per drain; the alarm comes back for the rest. */
const DRAIN_ROWS = 1000;
/** After the vendor refused the credentials, wait this long before trying again (someone must fix the config). */
const AUTH_PAUSE_MS = 5 * 60_000;

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
  CREATE TABLE IF NOT EXISTS synced (
    profile_id TEXT NOT NULL,
    audience   TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    member     INTEGER NOT NULL,
    PRIMARY KEY (profile_id, audience)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS identity (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), destination_id TEXT NOT NULL);
`;

interface PendingRow extends Record<string, SqlStorageValue> {
  profile_id: string;
  audience: string;
  seq: number;
  op: string;
  attempts: number;
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
}

export class DestinationDO extends DurableObject<Env> implements DestinationRpc {
  private readonly sql: SqlStorage;
  /** Start times of recent vendor calls, for the sliding-window limiter (in memory: lost on eviction, which only resets the pace). */
  private readonly calls: number[] = [];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
  }

  async enqueue(destinationId: string, ops: SyncOp[], options: { force?: boolean } = {}): Promise<{ queued: number }> {
    let queued = 0;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO identity (singleton, destination_id) VALUES (1, ?) ON CONFLICT DO NOTHING",
        destinationId,
      );
      for (const op of ops) {
        const audience = opAudience(op);
        const seq = op.kind === "membership" ? op.seq : Number.MAX_SAFE_INTEGER;
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
    if (!destination || !poller) return { stored: 0, unmatched: 0 };
    const ctx = pluginContext(this.sql, destination);
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
    await new Drain(this.sql, this.env, destination, plugin, this.calls).run();
    const next = this.sql.exec<{ at: number | null }>("SELECT min(not_before) AS at FROM pending").one().at;
    if (next !== null) await this.armAlarm(Math.max(next, Date.now()));
  }

  private async armAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}

/** One pass over the due operations of a destination. */
class Drain {
  private readonly record: DrainRecord;
  private readonly ctx: PluginContext<Record<string, unknown>>;
  private pausedUntil = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly env: Env,
    private readonly destination: DestinationRow,
    private readonly plugin: DestinationPlugin<Record<string, unknown>>,
    private readonly calls: number[],
  ) {
    this.record = emptyDrainRecord(Date.now());
    this.ctx = pluginContext(sql, destination, calls);
  }

  async run(): Promise<void> {
    const rows = this.sql
      .exec<PendingRow>(
        "SELECT profile_id, audience, seq, op, attempts FROM pending WHERE not_before <= ? ORDER BY not_before LIMIT ?",
        Date.now(),
        DRAIN_ROWS,
      )
      .toArray();
    if (rows.length === 0) return;
    const deletes = rows.filter((r) => r.audience === "");
    const byAudience = new Map<string, PendingRow[]>();
    for (const row of rows) {
      if (row.audience === "") continue;
      const group = byAudience.get(row.audience) ?? [];
      group.push(row);
      byAudience.set(row.audience, group);
    }
    for (const row of deletes) {
      if (this.paused()) break;
      await this.deleteOne(row);
    }
    for (const [audience, group] of byAudience) {
      const size = this.plugin.limits.membershipBatch;
      for (let i = 0; i < group.length && !this.paused(); i += size) {
        await this.memberships(audience, group.slice(i, i + size));
      }
    }
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

  private paused(): boolean {
    return this.pausedUntil > Date.now();
  }

  /**
   * One chunk of an audience's membership changes. For a MAP, contacts entering a list are upserted first (with the
   * destination's traits, maps.md §4.1): the vendor may only list contacts it has, and the upsert returns the vendor
   * id that list calls need. An item whose upsert did not succeed settles with that outcome.
   */
  private async memberships(audience: string, rows: PendingRow[]): Promise<void> {
    const ops = rows.map((r) => JSON.parse(r.op) as Extract<SyncOp, { kind: "membership" }>);
    const isMap = this.plugin.type !== "webhook";
    let sendable: number[] = [];
    for (const [i, op] of ops.entries()) {
      if (isMap && !op.email) this.settle(rows[i], op, { status: "skip", reason: "the profile has no email" });
      else sendable.push(i);
    }
    if (sendable.length === 0) return;
    const known = await findVendorIds(
      this.env.DB,
      this.destination.id,
      sendable.flatMap((i) => (ops[i].email ? [ops[i].email as string] : [])),
    );
    const identities = new Map<number, ContactIdentity>();
    for (const i of sendable) {
      const op = ops[i];
      const identity: ContactIdentity = { profileId: op.profileId };
      if (op.email) identity.email = op.email;
      const vendorId = op.email ? known.get(op.email) : undefined;
      if (vendorId) identity.vendorId = vendorId;
      identities.set(i, identity);
    }
    if (isMap) {
      const entering = sendable.filter((i) => ops[i].member);
      const size = this.plugin.limits.upsertBatch;
      for (let start = 0; start < entering.length; start += size) {
        const chunk = entering.slice(start, start + size);
        const upserted = await this.call(chunk.length, () =>
          this.plugin.upsertContacts(
            this.ctx,
            chunk.map((i) => ({ identity: identities.get(i) as ContactIdentity, traits: ops[i].traits })),
          ),
        );
        // Paced or paused: the whole chunk waits for the next drain, nothing half-done.
        if (!upserted || this.paused()) return;
        for (const [k, i] of chunk.entries()) {
          const outcome = upserted[k];
          if (outcome.status !== "ok") {
            this.settle(rows[i], ops[i], outcome);
            sendable = sendable.filter((j) => j !== i);
          } else if (outcome.vendorId) {
            (identities.get(i) as ContactIdentity).vendorId = outcome.vendorId;
            this.record.vendorIds.push({ email: ops[i].email as string, vendorId: outcome.vendorId });
          }
        }
      }
      if (sendable.length === 0) return;
    }
    const items: MembershipOp[] = sendable.map((i) => {
      const op = ops[i];
      return {
        identity: identities.get(i) as ContactIdentity,
        member: op.member,
        traits: op.traits,
        profile: op.profile,
        at: op.at,
      };
    });
    const outcomes = await this.call(items.length, () =>
      this.plugin.applyMemberships(this.ctx, { key: audience, name: `tessera_${audience}` }, items),
    );
    if (!outcomes) return;
    for (const [k, opIndex] of sendable.entries()) this.settle(rows[opIndex], ops[opIndex], outcomes[k]);
  }

  private async deleteOne(row: PendingRow): Promise<void> {
    const op = JSON.parse(row.op) as Extract<SyncOp, { kind: "delete" }>;
    const identity: ContactIdentity = { profileId: op.profileId };
    if (op.email) identity.email = op.email;
    const outcomes = await this.call(1, async () => [await this.plugin.deleteContact(this.ctx, identity)]);
    if (outcomes) this.settle(row, op, outcomes[0]);
  }

  /**
   * Runs one vendor call under the limiter, turning batch-level signals into per-item outcomes: `Throttled` pauses
   * the whole destination, `AuthRefused` pauses it longer, anything else retries the items. Null when the window
   * had no room: nothing was sent.
   */
  private async call(n: number, send: () => Promise<Outcome[]>): Promise<Outcome[] | null> {
    const wait = this.waitForSlot();
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
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + err.retryAfterMs);
        return Array.from(
          { length: n },
          () => ({ status: "retry", reason, retryAfterMs: err.retryAfterMs }) as Outcome,
        );
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
   * Milliseconds until the vendor's window has room for another call (0: now). The plugin's HTTP calls are counted
   * as they are made (see `pluginContext`), so a call that makes several can overshoot by a few; the vendor's own
   * throttling signal is the backstop.
   */
  private waitForSlot(): number {
    const { limit, perMs } = this.plugin.limits.rate;
    const now = Date.now();
    while (this.calls.length > 0 && this.calls[0] <= now - perMs) this.calls.shift();
    return this.calls.length >= limit ? this.calls[0] + perMs - now : 0;
  }

  /** Applies one item's outcome: done (synced or dead-lettered) or back in the queue with a backoff. */
  private settle(row: PendingRow, op: SyncOp, outcome: Outcome): void {
    const attempts = row.attempts + 1;
    const action = op.kind === "delete" ? "delete" : op.member ? "add" : "remove";
    const base = {
      destinationId: this.destination.id,
      at: Date.now(),
      profileId: op.profileId,
      audience: op.kind === "membership" ? op.audience : null,
      action,
      attempts,
    } as const;
    if (outcome.status === "retry" && attempts < MAX_ATTEMPTS) {
      const backoff = outcome.retryAfterMs ?? Math.min(300_000, 1000 * 2 ** attempts);
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
        this.sql.exec(
          `INSERT INTO synced (profile_id, audience, seq, member) VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT (profile_id, audience) DO UPDATE SET seq = ?3, member = ?4 WHERE ?3 > synced.seq`,
          op.profileId,
          op.audience,
          op.seq,
          op.member ? 1 : 0,
        );
      }
      if (outcome.status === "ok") {
        this.record.delivered++;
        if (outcome.vendorId && "email" in op && op.email) {
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
    if (outcome.status === "fail" && outcome.code === "not_found" && "email" in op && op.email) {
      this.record.staleVendorIds.push(op.email);
    }
    this.record.deadLetters.push({ profileId: op.profileId, op: JSON.stringify(op), error });
    this.record.log.push({ ...base, outcome: "fail", error });
  }
}

/**
 * What a plugin or poller gets: the destination's config, `fetch`, the clock, and a key-value store in this object's
 * SQLite (tokens, list ids), so a cached token survives between drains and polls.
 */
function pluginContext(
  sql: SqlStorage,
  destination: DestinationRow,
  calls: number[] = [],
): PluginContext<Record<string, unknown>> {
  return {
    config: JSON.parse(destination.config) as Record<string, unknown>,
    destination: { id: destination.id, workspaceId: destination.workspaceId },
    // Every HTTP call counts towards the vendor's window, not each plugin call: one membership change may be a list
    // lookup, an upsert and a list update.
    fetch: (input, init) => {
      calls.push(Date.now());
      return fetch(input, init);
    },
    now: () => Date.now(),
    store: {
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
    },
  };
}
