/**
 * One pass of a destination's object over its due operations (DESIGN §7): deletes and membership changes taken in
 * whole vendor batches per audience (see `due-rows.ts`), contacts upserted once however many of their audiences
 * changed, list calls chunked to the plugin's limits, every request through the vendor's gate; each item's outcome
 * settles its row — done, retried with backoff, or dead-lettered — and the drain writes the sync log, vendor ids and
 * counters to D1 in one batch. The object (`destination-do.ts`) runs one from its alarm.
 */
import pLimit, { type LimitFunction } from "p-limit";
import type { DestinationRow } from "../../d1/queries/destinations";
import {
  type DrainRecord,
  emptyDrainRecord,
  findVendorIds,
  type NewSyncLogRow,
  recordDrain,
} from "../../d1/queries/sync-records";
import { currentDefinitionsVersion, definitionId, loadDefinitions } from "../audiences/definitions-cache";
import { chunked } from "../shared/chunked";
import { recordAuthPause } from "./auth-pause";
import { dueRows, type PendingRow } from "./due-rows";
import { erasedHere } from "./erased-contacts";
import {
  AuthRefused,
  type ContactIdentity,
  type DestinationPlugin,
  type ErasedContact,
  type JobOutcome,
  type MembershipOp,
  type Outcome,
  type PluginContext,
  type ProfileSnapshot,
  Redirected,
  Throttled,
} from "./plugin";
import { pluginContext } from "./plugin-context";
import { clearRefusal, recordRefusal } from "./refusals";
import { MAX_ATTEMPTS, retryDelayMs } from "./retry-schedule";
import { type MembershipSyncOp, onlySelected, type SyncOp, selectedTraits } from "./sync-op";
import type { VendorGate } from "./vendor-gate";
import {
  type AwaitedItem,
  awaitJobs,
  dueJobs,
  firstWaitFor,
  forgetItem,
  forgetJob,
  itemsOfJob,
  jobHolding,
  jobListing,
  postponeJob,
  waitForJob,
} from "./vendor-jobs";

/** Operations taken per drain; the alarm comes back for the rest. */
const DRAIN_ROWS = 1000;
/**
 * After the vendor refused the credentials, or the destination's address redirected, wait this long before trying
 * again (someone must fix the config; a `PUT` of it ends the wait at once).
 */
const AUTH_PAUSE_MS = 5 * 60_000;
/** A drain starts no new vendor call after this long: it records what it did and the alarm comes straight back. */
const DRAIN_BUDGET_MS = 10_000;

interface SyncedRow extends Record<string, SqlStorageValue> {
  member: number;
  email: string | null;
  traits: string | null;
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
  /** What the vendor's upsert left out (an `ok` outcome's `note`), for the sync log once the item is listed. */
  note?: string;
  /** The vendor's asynchronous job its upsert went into (an `ok` outcome's `job`), whose outcome comes later. */
  upsertJob?: string;
}

type DeleteItem = { row: PendingRow; op: Extract<SyncOp, { kind: "delete" }>; action: "delete" };

/** A sync log entry of an item before its outcome. */
type SyncLogBase = Omit<NewSyncLogRow, "outcome" | "error">;

/** One pass over the due operations of a destination. */
export class Drain {
  private readonly record: DrainRecord;
  private readonly ctx: PluginContext<Record<string, unknown>>;
  private readonly deadline = Date.now() + DRAIN_BUDGET_MS;
  private readonly isMap: boolean;
  /** The traits and computed traits the destination syncs (its `traits`). */
  private readonly wanted: ReadonlySet<string>;
  /** The audiences the destination syncs now (its `audiences`). */
  private readonly selected: ReadonlySet<string>;
  private pausedUntil = 0;
  /** When the pause the vendor's refusal of the credentials started ends (0: none); kept so the API can end it. */
  private authPausedUntil = 0;

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
    this.wanted = new Set(JSON.parse(destination.traits) as string[]);
    this.selected = new Set(JSON.parse(destination.audiences) as string[]);
  }

  /**
   * The profile as this destination is sent it (the webhook sends it as the event's `profile`): its id and
   * identifiers, and of its traits and computed traits only those the destination syncs (DESIGN §7 `traits`). An
   * operation carries the whole profile as its object read it, for whichever destinations it was queued to.
   */
  private profileOf(op: MembershipSyncOp): ProfileSnapshot {
    const { traits, computed } = op.profile;
    return { ...op.profile, traits: onlySelected(this.wanted, traits), computed: onlySelected(this.wanted, computed) };
  }

  /**
   * Deletes and membership calls run side by side up to the plugin's concurrency (the gate holds every request to it
   * as well). The rows are taken in whole vendor batches per audience (see `due-rows.ts`).
   */
  async run(): Promise<void> {
    const rows = dueRows(this.sql, Date.now(), { batch: this.plugin.limits.membershipBatch, budget: DRAIN_ROWS });
    const jobs = this.plugin.jobOutcome ? dueJobs(this.sql, Date.now()) : [];
    if (rows.length === 0 && jobs.length === 0) return;
    const slots = pLimit(Math.max(1, this.plugin.limits.concurrency));
    // Deletes have no audience ("") and go one by one.
    const deletes = rows.filter((row) => row.audience === "");
    const memberships: PendingRow[] = [];
    // Each read once here; `memberships` reads the ones it sends again.
    const queued = rows.flatMap((row) =>
      row.audience === "" ? [] : [{ row, op: JSON.parse(row.op) as MembershipSyncOp }],
    );
    const currentDefinitions = await this.audienceDefinitionsIfAsked(queued.map(({ op }) => op));
    for (const { row, op } of queued) {
      if (!this.selected.has(row.audience))
        this.dropUnsent(row, op, `not sent: the destination no longer syncs audience ${row.audience}`);
      else if (enteredReplacedDefinition(op, currentDefinitions))
        this.dropUnsent(
          row,
          op,
          `not sent: the profile entered a definition of audience ${row.audience} that was deleted since (a definition of the key created after it is another audience)`,
        );
      else memberships.push(row);
    }
    await Promise.all([
      ...deletes.map((row) => slots(() => this.whileOpen(() => this.deleteOne(row)))),
      this.memberships(memberships, slots),
    ]);
    await this.checkJobs(jobs);
    if (this.pausedUntil > 0) {
      this.sql.exec("UPDATE pending SET not_before = max(not_before, ?)", this.pausedUntil);
    }
    if (this.authPausedUntil > 0) await recordAuthPause(this.sql, this.authPausedUntil);
    // A GDPR delete that arrived since an item was settled (during another call of this drain): its dead letter,
    // which holds the email and traits sent, is not written.
    this.record.deadLetters = this.record.deadLetters.filter(
      (letter) => JSON.parse(letter.op).kind === "delete" || !erasedHere(this.sql, letter.profileId),
    );
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
    const listing = (await this.upsertContacts(items, slots)).filter((item) => !this.removalHeldByJob(item));
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
      // The traits selected now, of the profile as the op saw it (not those selected when it was queued, a dead
      // letter's long ago): a trait no longer selected is not sent, and one selected since reaches a member whose op
      // waited meanwhile. Compared with what was synced, and kept should the op be retried or dead-lettered again.
      op.traits = selectedTraits(this.wanted, op.profile.traits, op.profile.computed);
      const synced = this.sql
        .exec<SyncedRow>(
          "SELECT member, email, traits FROM synced WHERE profile_id = ? AND audience = ?",
          op.profileId,
          op.audience,
        )
        .toArray()[0];
      const listedAs = synced?.member === 1 ? (synced.email ?? undefined) : undefined;
      const sameEmail = synced?.email === (op.email ?? null);
      // A restatement of a membership the vendor has (the profile's traits changed): the same contact stays listed.
      // A MAP lists contacts by email, so a new one is a new contact (added, the old one removed); a webhook's
      // receiver knows the member by profile id, so a new email is an update of the member it has.
      // A repair is an entry the vendor lacks; a trait restatement is the exception, an upsert of a listed contact.
      const listed =
        op.member && (!op.repair || op.restate === true) && synced?.member === 1 && (sameEmail || !this.isMap);
      // A restatement of a member no longer listed as it was read has nothing to tell: what changed since says it.
      if ((listed && sameEmail && synced.traits === JSON.stringify(op.traits)) || (op.restate && !listed)) {
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
      // The reason names no email: the log row is this profile's, and the email is also another person's, whose
      // erase would not find it here.
      this.settle(item, { status: "skip", reason: "its email stays listed for another profile with that email" });
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
    ].filter((contact) => !this.heldByJob(contact));
    const chunks = chunked(contacts, this.plugin.limits.upsertBatch, () => 1);
    await Promise.all(
      chunks.map((chunk) =>
        slots(() =>
          this.whileOpen(async () => {
            const newest = chunk.map((contact) => contact.reduce((a, b) => (b.op.seq > a.op.seq ? b : a)));
            const upserted = await this.call(chunk.flat(), newest.length, () =>
              this.plugin.upsertContacts(
                this.ctx,
                newest.map(({ identity, op }) => ({
                  identity,
                  traits: op.traits,
                  profile: this.profileOf(op),
                  at: op.at,
                })),
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
                if (outcome.note) item.note = outcome.note;
                if (outcome.job) item.upsertJob = outcome.job;
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
   * Whether the contact's upsert waits, settled so, because a vendor job still awaited holds an older state of it: the
   * job writes that state when it runs, over anything sent before (see `jobHolding`).
   */
  private heldByJob(contact: MembershipItem[]): boolean {
    const email = contact[0].identity.email;
    const job = email && this.plugin.jobOutcome ? jobHolding(this.sql, email) : undefined;
    if (!job) return false;
    const reason = `waiting for the vendor's job ${job}, which holds an older state of this contact and writes it when it runs`;
    for (const item of contact) this.settle(item, { status: "retry", reason, waitsFor: job });
    return true;
  }

  /**
   * Whether the item's removal from its list (an exit, or a former email's removal beside the new one's entry) waits,
   * settled so, because a vendor job still awaited adds that contact to the list: the job lists it when it runs, after
   * a removal sent now (see `jobListing`).
   */
  private removalHeldByJob(item: MembershipItem): boolean {
    const email = item.action === "remove" ? item.identity.email : item.former?.email;
    const job = email && this.plugin.jobOutcome ? jobListing(this.sql, item.op.audience, email) : undefined;
    if (!job) return false;
    const reason = `waiting for the vendor's job ${job}, which still adds this contact to tessera_${item.op.audience}`;
    this.settle(item, { status: "retry", reason, waitsFor: job });
    return true;
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
        profile: this.profileOf(op),
        at: op.at,
      })),
      ...formers.map(({ former, op }) => ({
        identity: former as ContactIdentity,
        member: false,
        profile: this.profileOf(op),
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

  /**
   * A GDPR delete: one item for the person, whatever number of contacts the vendor holds for them. A person merged
   * from several profiles had several emails, each possibly a contact there, and the vendor may know one only by the
   * id it answered when Tessera synced it: the plugin is handed every email and every such id.
   */
  private async deleteOne(row: PendingRow): Promise<void> {
    const op = JSON.parse(row.op) as Extract<SyncOp, { kind: "delete" }>;
    const emails = [
      ...new Set(
        [op.email, ...op.identifiers.filter((i) => i.type === "email").map((i) => i.value)]
          .map((email) => email?.trim().toLowerCase())
          .filter((email): email is string => Boolean(email)),
      ),
    ];
    const known = this.isMap ? await findVendorIds(this.env.DB, this.destination.id, emails) : new Map();
    const person: ErasedContact = {
      profileId: op.profileId,
      emails,
      vendorIds: [...new Set(known.values())],
      identifiers: op.identifiers,
    };
    const item: DeleteItem = { row, op, action: "delete" };
    const outcomes = await this.call([item], 1, async () => [await this.plugin.deleteContact(this.ctx, person)]);
    if (outcomes) this.settle(item, outcomes[0]);
  }

  /**
   * Runs one plugin call about `items`, which expects `n` outcomes, turning batch-level signals into per-item
   * outcomes: `AuthRefused` and `Redirected` (the config is wrong, not the items) pause the destination until its
   * config changes and retry the items then, anything else retries them with a backoff. Null when the vendor's window is full (nothing was sent: the items wait for it to open, as the gate would
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
      // The items' `retry` outcomes make it the destination's error when they are settled (see `logError`).
      if (err instanceof AuthRefused || err instanceof Redirected) {
        this.authPausedUntil = Math.max(this.authPausedUntil, Date.now() + AUTH_PAUSE_MS);
        this.pausedUntil = Math.max(this.pausedUntil, this.authPausedUntil);
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

  /**
   * When each audience definition of the workspace was created (by `definitionId`), read only when one of `rows` is
   * an entry naming its definition: from this isolate's definitions cache, which asks D1 at most once per drain (its
   * version) and again for the set only once the version moved. Undefined when nothing asks, or the cache's copy
   * predates creation times.
   */
  private async audienceDefinitionsIfAsked(
    ops: MembershipSyncOp[],
  ): Promise<Readonly<Record<string, number>> | undefined> {
    if (!ops.some((op) => stampedEntry(op) !== undefined)) return undefined;
    const workspaceId = this.destination.workspaceId;
    const version = await currentDefinitionsVersion(this.env.DB, workspaceId);
    return (await loadDefinitions(this.env.DB, workspaceId, version)).created;
  }

  /**
   * An operation dropped unsent: a skip in the log and the counters, with `reason`; never dead-lettered. Used for an
   * audience the destination no longer syncs (taken off it after the operation was queued, or routed by an isolate
   * that had not seen the change yet): taking an audience off a destination stops syncing it and leaves the vendor's
   * list as it is, as deleting the destination does: nothing says its members are removed first, so its queued exits
   * are dropped like its entries. And for an entry of a definition deleted since (see
   * {@link enteredReplacedDefinition}). `synced` is left alone, still saying what the vendor lists, so reconciliation
   * repairs both ways what was dropped (should the audience be selected again).
   */
  private dropUnsent(row: PendingRow, op: MembershipSyncOp, reason: string): void {
    this.sql.exec(
      "DELETE FROM pending WHERE profile_id = ? AND audience = ? AND seq = ?",
      row.profile_id,
      row.audience,
      row.seq,
    );
    this.record.skipped++;
    this.record.log.push({
      destinationId: this.destination.id,
      at: Date.now(),
      profileId: op.profileId,
      audience: op.audience,
      action: op.member ? "add" : "remove",
      attempts: row.attempts,
      outcome: "skip",
      error: reason,
    });
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
    if (op.kind === "membership" && erasedHere(this.sql, op.profileId)) {
      this.settleErased(item, outcome, base);
      return;
    }
    const waitUntil =
      outcome.status === "retry" && outcome.waitsFor ? waitForJob(this.sql, outcome.waitsFor) : undefined;
    if (outcome.status === "retry" && waitUntil !== undefined) {
      // Waiting for a job the vendor still runs is no failure, however long the job takes: no attempt is spent.
      this.sql.exec(
        "UPDATE pending SET not_before = ? WHERE profile_id = ? AND audience = ? AND seq = ?",
        waitUntil,
        row.profile_id,
        row.audience,
        row.seq,
      );
      if (firstWaitFor(this.sql, outcome.waitsFor as string, row.profile_id, row.audience)) {
        this.record.log.push({ ...base, attempts: row.attempts, outcome: "retry", error: outcome.reason });
      }
      return;
    }
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
      // Still waiting for a vendor's job (one this object no longer awaits, so the wait spends attempts) is no error.
      if (outcome.waitsFor) this.record.log.push({ ...base, outcome: "retry", error: outcome.reason });
      else this.logError(base, "retry", outcome.reason);
      if (op.kind === "delete") {
        const error = `${outcome.reason} (attempt ${attempts} of ${MAX_ATTEMPTS}, retrying)`;
        this.record.erasures.push({ profileId: op.profileId, status: "pending", error });
      }
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
        clearRefusal(this.sql, op.profileId, op.audience);
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
          this.record.erasures.push({ profileId: op.profileId, status: "ok", error: null });
        } else if (item.action !== "delete" && outcome.vendorId && item.identity.email) {
          // The email the call was about: an exit removes the one last listed, which may not be the profile's now.
          this.record.vendorIds.push({ email: item.identity.email, vendorId: outcome.vendorId });
        }
        // An ok that left something out (HubSpot lacking a property) says so in the log.
        const note = outcome.note ?? (item.action === "delete" ? undefined : item.note);
        this.record.log.push({ ...base, outcome: "ok", error: note ?? null });
        if (item.action !== "delete") this.awaitVendorJobs(item, outcome, attempts);
      } else {
        this.record.skipped++;
        this.record.log.push({ ...base, outcome: "skip", error: outcome.reason });
        // Nothing to delete the person by at this vendor: it never held them.
        if (op.kind === "delete") this.record.erasures.push({ profileId: op.profileId, status: "ok", error: null });
      }
      return;
    }
    const error =
      outcome.status === "fail"
        ? `${outcome.code}: ${outcome.message}`
        : `gave up after ${attempts} attempts: ${outcome.reason}`;
    this.deadLetter(op, error, base);
    // The vendor no longer knows the id we remembered: a replay must look the contact up by email again.
    if (outcome.status === "fail" && outcome.code === "not_found" && op.email) {
      this.record.staleVendorIds.push(op.email);
    }
    if (op.kind === "membership") {
      // Refused for good, reconciliation must not ask again until something changes (see `refusals.ts`); retries
      // that ran out (an outage) are what reconciliation is there to repair.
      if (outcome.status === "fail") recordRefusal(this.sql, op);
      else clearRefusal(this.sql, op.profileId, op.audience);
    }
    // The erase job shows it and hands the delete to this destination again (`workers/erase/destination-deletes.ts`).
    if (op.kind === "delete") this.record.erasures.push({ profileId: op.profileId, status: "failed", error });
  }

  /** An item the vendor took into asynchronous jobs (its upsert's, its list call's) is settled again once they end. */
  private awaitVendorJobs(item: MembershipItem, outcome: Extract<Outcome, { status: "ok" }>, attempts: number): void {
    const jobs = [item.upsertJob, outcome.job].filter((job): job is string => job !== undefined);
    const email = item.identity.email;
    if (jobs.length === 0 || !email || !this.plugin.jobOutcome) return;
    awaitJobs(this.sql, [...new Set(jobs)], { op: item.op, email, action: item.action, attempts });
  }

  /**
   * Asks the plugin how each due job ended and settles its items; a job still running (or unreadable now) is asked
   * again later. Throttled, the destination pauses as for any call.
   */
  private async checkJobs(jobs: string[]): Promise<void> {
    const ask = this.plugin.jobOutcome;
    if (!ask) return;
    for (const job of jobs) {
      // Not now (paused, out of time, the vendor's window full): later, not at once again (the alarm follows check_at).
      if (this.pausedUntil > Date.now() || Date.now() > this.deadline || this.gate.waitMs() > 0) {
        postponeJob(this.sql, job);
        continue;
      }
      let outcome: JobOutcome | undefined;
      try {
        outcome = await ask.call(this.plugin, this.ctx, job);
      } catch (err) {
        if (err instanceof Throttled) {
          postponeJob(this.sql, job);
          this.pausedUntil = Math.max(this.pausedUntil, Date.now() + err.retryAfterMs);
          continue;
        }
        console.warn(`reading job ${job} of ${this.destination.id} failed; asking again later`, err);
      }
      if (outcome !== undefined) this.settleJob(job, outcome);
      else if (!postponeJob(this.sql, job))
        this.settleJob(job, { failed: [], unnamed: `job ${job} did not end, or could not be read, within a day` });
    }
  }

  /**
   * A finished job's items: those it failed (named, or all others when the job as a whole did not run through) are
   * settled anew; the rest were `ok` already, and get the vendor ids the job gave their emails, as an `ok` outcome's
   * are recorded. While the vendor has more ids to give (`more`), the job stays awaited, to be asked again. Failures
   * the vendor counted without naming anyone are the destination's error and a log row of their own, as no profile
   * can be told.
   */
  private settleJob(job: string, outcome: JobOutcome): void {
    const items = itemsOfJob(this.sql, job);
    const named = new Map(outcome.failed.map((f) => [f.email, f.outcome]));
    const vendorIds = new Map(outcome.vendorIds?.map((v) => [v.email, v.vendorId]));
    for (const item of items) {
      const failure = named.get(item.email) ?? outcome.others;
      if (failure) {
        this.settleLate(item, failure);
        continue;
      }
      const vendorId = vendorIds.get(item.email);
      if (vendorId === undefined) continue;
      this.record.vendorIds.push({ email: item.email, vendorId });
      // Once per email: a contact may ride in the job for several audiences.
      vendorIds.delete(item.email);
    }
    if (!outcome.more || !postponeJob(this.sql, job)) forgetJob(this.sql, job);
    if (outcome.unnamed) {
      const base = {
        destinationId: this.destination.id,
        at: Date.now(),
        profileId: "",
        audience: items[0]?.audience ?? null,
        action: items[0]?.action ?? "upsert",
        attempts: items[0]?.attempts ?? 1,
      };
      this.logError(base, "fail", outcome.unnamed);
    }
  }

  /**
   * An item counted delivered when the vendor accepted its job, which then failed it. The vendor does not hold what
   * `synced` says it does (unless a newer change was synced since), so that row goes: a replay of the dead letter is
   * not stale, and reconciliation sees the member as missing. A failure for good is a dead letter and a refusal
   * (reconciliation does not ask again, see `refusals.ts`); one worth another try (a cancelled job) is left to
   * reconciliation, which repairs it within a minute.
   */
  private settleLate(item: AwaitedItem, failure: Extract<Outcome, { status: "retry" | "fail" }>): void {
    forgetItem(this.sql, item);
    const op = JSON.parse(item.op) as MembershipSyncOp;
    if (erasedHere(this.sql, op.profileId)) return;
    this.sql.exec(
      "DELETE FROM synced WHERE profile_id = ? AND audience = ? AND seq = ?",
      op.profileId,
      op.audience,
      op.seq,
    );
    this.record.delivered--;
    const base = {
      destinationId: this.destination.id,
      at: Date.now(),
      profileId: op.profileId,
      audience: op.audience,
      action: item.action,
      attempts: item.attempts,
    } as const;
    if (failure.status === "retry") {
      this.logError(base, "retry", `${failure.reason}; reconciliation sends it again`);
      return;
    }
    this.deadLetter(op, `${failure.code}: ${failure.message}`, base);
    recordRefusal(this.sql, op);
  }

  /** An operation done with for good: counted failed, a dead letter, and its error logged. */
  private deadLetter(op: SyncOp, error: string, base: SyncLogBase): void {
    this.record.failed++;
    this.record.deadLetters.push({ profileId: op.profileId, op: JSON.stringify(op), error });
    this.logError(base, "fail", error);
  }

  /**
   * An error the vendor gave an item (or a job's items), in the sync log and as the destination's `last_error`
   * (DESIGN §7): a vendor that fails every call shows as down in the status whether the plugin threw or answered
   * per-item `retry`/`fail` outcomes. Skips, throttling and waits for a vendor's job are not errors and do not come
   * here; the last error of the drain is the one kept.
   */
  private logError(base: SyncLogBase, outcome: "retry" | "fail", error: string): void {
    this.record.lastError = error;
    this.record.log.push({ ...base, outcome, error });
  }

  /**
   * The outcome of a call about a profile whose GDPR delete reached this object while the call was in flight: the
   * delete waits behind it, and nothing of the person may be kept. No retry, no dead letter (it would hold the email
   * and traits sent), no `synced` entry (its email and traits), and the log keeps the outcome without the vendor's
   * words, which may quote what was sent.
   */
  private settleErased(item: MembershipItem | DeleteItem, outcome: Outcome, base: SyncLogBase): void {
    const { row } = item;
    this.sql.exec(
      "DELETE FROM pending WHERE profile_id = ? AND audience = ? AND seq = ?",
      row.profile_id,
      row.audience,
      row.seq,
    );
    const error = outcome.status === "ok" ? null : `${outcome.status}; the profile was erased, so it is not kept`;
    this.record.log.push({ ...base, outcome: outcome.status === "ok" ? "ok" : "skip", error });
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

/** The definition an entry was evaluated under (its `definitionCreatedAt`); undefined for exits and unstamped ops. */
function stampedEntry(op: MembershipSyncOp): number | undefined {
  return op.member ? op.definitionCreatedAt : undefined;
}

/**
 * Whether `op` enters a definition of its audience that is no longer the key's (deleted, maybe defined again since):
 * the profile is no member of the audience the destination lists now, and D1 refused the entry too. Only entries: a
 * late exit of the old definition removes what that one listed, and is stale anyway (by `seq`) once the profile
 * entered the new one; a repair or restatement reads the current definition and names none.
 */
function enteredReplacedDefinition(
  op: MembershipSyncOp,
  created: Readonly<Record<string, number>> | undefined,
): boolean {
  if (created === undefined) return false;
  const enteredUnder = stampedEntry(op);
  return enteredUnder !== undefined && created[definitionId("audience", op.audience)] !== enteredUnder;
}
