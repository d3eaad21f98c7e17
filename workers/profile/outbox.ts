/**
 * The outbox of membership changes (see `audience-state.ts`): rows committed with the change, delivered after the
 * commit to D1 (`audience_members`, `computed_trait_members`) and, for audiences, to `SYNC_QUEUE` as one
 * {@link MembershipChanges} message per delivery. A row leaves the outbox only once both took it, so a crash or an outage
 * delays a change and never loses it; a delivery repeated after a crash is harmless (D1 writes are keyed, guarded by
 * `seq` and by the definition each row was evaluated under, the sync consumer drops any `seq` it has already seen).
 */
import type { Identifier, JsonObject, MembershipChanges } from "@tessera/protocol";
import type { DefinitionKind } from "../../d1/queries/definitions";
import { applyMemberChanges, type MemberChange } from "../../d1/queries/members";
import { sendInBatches } from "../shared/send-in-batches";
import { jsonBytes } from "../shared/utf8";
import { readIdentifiers } from "./identifier-set";
import { outboxRetryDelay } from "./outbox-retry";
import { hasPart } from "./schema";
import { readTraits } from "./traits";

/** Rows per delivery: one D1 batch and a few queue sends. */
const FLUSH_ROWS = 200;

interface OutboxRow extends Record<string, SqlStorageValue> {
  seq: number;
  kind: DefinitionKind;
  key: string;
  member: number;
  at: number;
  definition_created_at: number | null;
}

export function outboxSize(sql: SqlStorage): number {
  if (!hasPart(sql, "audiences")) return 0;
  return sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
}

/**
 * Each object's run of failed deliveries, keyed by its `SqlStorage` (one per live object). In memory: an object
 * evicted while backing off starts again at the first step when its alarm wakes it, which only makes it try sooner.
 */
const failedDeliveries = new WeakMap<SqlStorage, { failures: number; retryAt: number }>();

/**
 * When the outbox should next be delivered: `null` when it is empty, `now` when rows wait, or the retry time while
 * failed deliveries back off (an alarm set for "now" would retry at once and defeat the backoff).
 */
export function outboxDueAt(sql: SqlStorage, now = Date.now()): number | null {
  if (outboxSize(sql) === 0) return null;
  return Math.max(now, failedDeliveries.get(sql)?.retryAt ?? now);
}

/** Records a failed delivery; returns when to try again (see {@link outboxRetryDelay}). */
export function recordFailedDelivery(sql: SqlStorage, now = Date.now()): number {
  const failures = (failedDeliveries.get(sql)?.failures ?? 0) + 1;
  const retryAt = now + outboxRetryDelay(failures);
  failedDeliveries.set(sql, { failures, retryAt });
  return retryAt;
}

/** Who the changes are about, as the sync consumer needs them (the profile's state when they are delivered). */
export interface OutboxOwner {
  workspaceId: string;
  profileId: string;
}

/**
 * Pending rows handed to a caller that delivers many profiles' changes together (the ingest pipeline): it writes
 * `members` to D1 and sends `sync`, then tells the object `upTo` was delivered. Until then the rows stay here.
 */
export interface OutboxHandoff extends OutboxOwner {
  upTo: number;
  members: MemberChange[];
  /** The sync queue's messages: one for the audience changes among `members`, none when there are none. */
  sync: MembershipChanges[];
}

/**
 * The oldest pending rows (up to one delivery's worth), as D1 takes them (`members`) and as the sync queue takes them
 * (`sync`, audiences only); null when nothing is pending. `upTo`: the last row's seq, what to drop once both took them.
 */
export function readOutbox(sql: SqlStorage, owner: OutboxOwner): OutboxHandoff | null {
  if (!hasPart(sql, "audiences")) return null;
  const rows = sql
    .exec<OutboxRow>(
      "SELECT seq, kind, key, member, at, definition_created_at FROM outbox ORDER BY seq LIMIT ?",
      FLUSH_ROWS,
    )
    .toArray();
  if (rows.length === 0) return null;
  const members: MemberChange[] = rows.map((r) => ({
    kind: r.kind,
    key: r.key,
    member: r.member === 1,
    at: r.at,
    seq: r.seq,
    // As queued: the definition the profile holds now may be a newer one of the same key. A row queued before the
    // column names none (D1 then takes the key's current definition).
    ...(r.definition_created_at === null ? {} : { definitionCreatedAt: r.definition_created_at }),
  }));
  return { ...owner, upTo: rows[rows.length - 1].seq, members, sync: syncMessages(sql, owner, members) };
}

/** Drops the rows D1 and the sync queue both took (seq ≤ `upTo`); an emptied outbox ends any backoff. */
export function dropDelivered(sql: SqlStorage, upTo: number): void {
  if (!hasPart(sql, "audiences")) return;
  sql.exec("DELETE FROM outbox WHERE seq <= ?", upTo);
  if (outboxSize(sql) === 0) failedDeliveries.delete(sql);
}

/**
 * Delivers every pending row, oldest first, and deletes what was delivered. Throws when D1 or the queue fails;
 * the rows stay for the next attempt (record it with {@link recordFailedDelivery}). A full delivery ends the backoff.
 */
export async function flushOutbox(sql: SqlStorage, env: Env, owner: OutboxOwner): Promise<number> {
  let delivered = 0;
  for (;;) {
    const handoff = readOutbox(sql, owner);
    if (!handoff) return delivered;
    // Side by side: the sync path does not wait for D1, whose single writer is the slowest step when many profiles
    // change at once. Both must take the rows before they leave; a half-done delivery is repeated, harmlessly.
    await Promise.all([
      applyMemberChanges(env.DB, owner.workspaceId, owner.profileId, handoff.members),
      sendInBatches(env.SYNC_QUEUE, handoff.sync),
    ]);
    dropDelivered(sql, handoff.upTo);
    delivered += handoff.members.length;
  }
}

function syncMessages(sql: SqlStorage, owner: OutboxOwner, changes: MemberChange[]): MembershipChanges[] {
  const audienceChanges = changes.filter((c) => c.kind === "audience");
  if (audienceChanges.length === 0) return [];
  const identifiers: Identifier[] = readIdentifiers(sql).map(({ type, value }) => ({ type, value }));
  const traits = readTraits(sql);
  const computed = Object.fromEntries(
    sql
      .exec<{ key: string; value: string }>("SELECT key, value FROM computed_values ORDER BY key")
      .toArray()
      .map((r) => [r.key, JSON.parse(r.value)]),
  ) as JsonObject;
  return [
    fitted({
      kind: "memberships",
      workspaceId: owner.workspaceId,
      profileId: owner.profileId,
      changes: audienceChanges.map((c) => ({
        audience: c.key,
        member: c.member,
        seq: c.seq,
        at: new Date(c.at).toISOString(),
        ...(c.definitionCreatedAt === undefined ? {} : { definitionCreatedAt: c.definitionCreatedAt }),
      })),
      identifiers,
      traits,
      computed,
    }),
  ];
}

/**
 * What a delivery's message may take: a queue refuses a message over 128 KB (`send-in-batches.ts`), and a refused
 * delivery is retried for ever, so the profile's audience changes would never reach a destination.
 */
const MAX_SYNC_MESSAGE_BYTES = 100_000;

/** Identifier types destinations match contacts on; the others (anonymous and device ids, custom ones) are left first. */
const MATCHED = new Set(["user_id", "email", "phone"]);

/**
 * `message`, made to fit one queue message. A profile can hold more than that — traits gathered over years of
 * identify calls, up to 1,000 identifiers — and then what destinations need least is left out until it fits:
 * identifiers they do not match contacts on, then the largest trait and computed values (the contact is synced
 * without them), then the other identifiers. Logged, so an operator can see which.
 */
export function fitted(message: MembershipChanges): MembershipChanges {
  let excess = jsonBytes(message) - MAX_SYNC_MESSAGE_BYTES;
  if (excess <= 0) return message;
  const traits = { ...message.traits };
  const computed = { ...message.computed };
  const identifiers = new Set(message.identifiers);
  const value = (from: JsonObject, key: string) => ({
    bytes: jsonBytes(key) + jsonBytes(from[key]) + 2,
    name: key,
    leave: () => delete from[key],
  });
  const identifier = (id: Identifier) => ({
    bytes: jsonBytes(id) + 1,
    name: id.type,
    leave: () => identifiers.delete(id),
  });
  const leavable = [
    ...message.identifiers.filter((id) => !MATCHED.has(id.type)).map(identifier),
    ...[
      ...Object.keys(traits).map((key) => value(traits, key)),
      ...Object.keys(computed).map((key) => value(computed, key)),
    ].sort((a, b) => b.bytes - a.bytes),
    ...message.identifiers.filter((id) => MATCHED.has(id.type)).map(identifier),
  ];
  const left = new Map<string, number>();
  for (const item of leavable) {
    if (excess <= 0) break;
    item.leave();
    left.set(item.name, (left.get(item.name) ?? 0) + 1);
    excess -= item.bytes;
  }
  const named = [...left].map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(", ");
  console.warn(
    `profile ${message.profileId}: its membership changes went out without ${named}, to fit one queue message`,
  );
  return { ...message, traits, computed, identifiers: [...identifiers] };
}
