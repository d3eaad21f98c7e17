import { DurableObject } from "cloudflare:workers";
import type { AcceptedMessage, Identifier, LiveEvent, LiveEventsPage } from "@tessera/protocol";
import { identifierKey, isPlainObject, LIVE_EVENTS_KEPT } from "@tessera/protocol";
import { extractIdentifiers, normalizeIdentifier } from "../identity/extract";
import type { IdentityRules } from "../identity/rules";

/**
 * How long the feed keeps refusing messages naming a person it was told to forget: a collector hands its messages
 * over up to a quarter of a second after accepting them, so one accepted just before the erase can arrive after.
 */
export const FORGET_LATE_ARRIVALS_MS = 60_000;

/** What the collector hands the feed: a live event before the feed numbers it. */
export type LiveEventInput = Omit<LiveEvent, "seq">;

/** The RPC surface of {@link LiveEventsDO}, as a caller's stub sees it. */
export interface LiveEventsRpc {
  /** Keeps `events`, and the last {@link LIVE_EVENTS_KEPT} of all. */
  record(events: LiveEventInput[]): Promise<void>;
  /** Answers what came after `after`, waiting up to `waitMs` for something new. */
  read(after: number, waitMs: number): Promise<LiveEventsPage>;
  /**
   * Drops the messages naming any of `identifiers` (a GDPR-erased person's, read under the workspace's `rules`), and
   * those that arrive in the next {@link FORGET_LATE_ARRIVALS_MS}.
   */
  forget(identifiers: Identifier[], rules: IdentityRules): Promise<void>;
}

/**
 * Seqs an instance may number per millisecond it lives before they reach the next instance's: a million messages a
 * second. Numbered from the start time, seqs stay below 2^53 until the year 2255.
 */
const SEQS_PER_MS = 1000;

/**
 * One per workspace: the last {@link LIVE_EVENTS_KEPT} messages its collector saw, in memory only. A debugger's
 * feed need not survive an eviction, and keeping it off storage means recording costs no write and no fsync.
 */
export class LiveEventsDO extends DurableObject<Env> {
  private events: LiveEvent[] = [];
  /**
   * The seq before this instance's first: its start time, in steps of {@link SEQS_PER_MS}. A feed that starts again
   * (an eviction, a restart) numbers past every seq the one before it gave, so a reader's cursor from before reads
   * the new feed whole, and a seq a page shows is never another message's. The cursor stays the integer it was.
   */
  private readonly firstSeq = Date.now() * SEQS_PER_MS;
  private lastSeq = this.firstSeq;
  private waiters = new Set<() => void>();
  /** Erasures applied since the feed started: a reader that sees it change re-reads what it showed. */
  private erasures = 0;
  /** Erased people whose late messages are still refused: their identifiers' keys, until when, and the rules. */
  private forgotten: { keys: Set<string>; until: number; rules: IdentityRules } | null = null;

  /** Keeps `events`, and the last {@link LIVE_EVENTS_KEPT} of all. */
  record(events: LiveEventInput[]): void {
    const forgotten = this.stillForgotten(Date.now());
    for (const event of events) {
      if (forgotten && names(event, forgotten.keys, forgotten.rules)) continue;
      this.events.push({ seq: ++this.lastSeq, ...event });
    }
    if (this.events.length > LIVE_EVENTS_KEPT) this.events.splice(0, this.events.length - LIVE_EVENTS_KEPT);
    this.wakeReaders();
  }

  /** Answers what came after `after`, waiting up to `waitMs` for something new (a message, or an erasure). */
  async read(after: number, waitMs: number): Promise<LiveEventsPage> {
    // A cursor from an earlier instance reads this one from its start; so does one ahead of it (another machine's
    // clock ran ahead).
    const from = after < this.firstSeq || after > this.lastSeq ? this.firstSeq : after;
    if (from === this.lastSeq && waitMs > 0) await this.nextChange(waitMs);
    return { data: this.events.filter((e) => e.seq > from), cursor: this.lastSeq, erasures: this.erasures };
  }

  /** Drops the messages naming any of `identifiers`, and refuses those arriving for a while (see the interface). */
  forget(identifiers: Identifier[], rules: IdentityRules): void {
    const now = Date.now();
    const keys = new Set(identifiers.map(identifierKey));
    // Several erases close together: each one's people are refused for the whole window.
    for (const key of this.stillForgotten(now)?.keys ?? []) keys.add(key);
    this.forgotten = { keys, until: now + FORGET_LATE_ARRIVALS_MS, rules };
    this.events = this.events.filter((event) => !names(event, keys, rules));
    // An open console page still shows her messages: its waiting read answers now, and the new count tells it.
    this.erasures++;
    this.wakeReaders();
  }

  /** The erased people still refused; once their window has ended, their identifiers are not kept any longer. */
  private stillForgotten(now: number): LiveEventsDO["forgotten"] {
    if (this.forgotten !== null && now >= this.forgotten.until) this.forgotten = null;
    return this.forgotten;
  }

  private wakeReaders(): void {
    for (const wake of this.waiters) wake();
  }

  private nextChange(waitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.waiters.add(done);
    });
  }
}

/** The feed of `workspaceId`. Creating the stub does not wake the object. */
export function liveEventsStub(ns: Env["LIVE_EVENTS"], workspaceId: string): LiveEventsRpc {
  // The runtime stub has exactly these methods; the cast only sidesteps the deep Rpc type mapping.
  return ns.getByName(workspaceId) as unknown as LiveEventsRpc;
}

/**
 * Whether `event` names one of `keys`: an identifier of its message as the pipeline reads it, or the user or anonymous
 * id the feed shows (all that is left of a message too large to show).
 */
function names(event: LiveEventInput, keys: ReadonlySet<string>, rules: IdentityRules): boolean {
  const shown: Identifier[] = [];
  for (const [type, raw] of [
    ["user_id", event.user_id],
    ["anonymous_id", event.anonymous_id],
  ] as const) {
    const n = raw === null ? null : normalizeIdentifier(type, raw);
    if (n?.ok) shown.push(n.identifier);
  }
  // A rejected message is shown as sent: read whatever identifiers it carries, as an accepted one's are.
  const read = isPlainObject(event.message)
    ? extractIdentifiers(event.message as unknown as AcceptedMessage, rules).identifiers
    : [];
  return [...shown, ...read].some((id) => keys.has(identifierKey(id)));
}
