import { DurableObject } from "cloudflare:workers";
import type { LiveEvent, LiveEventsPage } from "@tessera/protocol";
import { LIVE_EVENTS_KEPT } from "@tessera/protocol";

/** What the collector hands the feed: a live event before the feed numbers it. */
export type LiveEventInput = Omit<LiveEvent, "seq">;

/** The RPC surface of {@link LiveEventsDO}, as a caller's stub sees it. */
export interface LiveEventsRpc {
  /** Keeps `events`, and the last {@link LIVE_EVENTS_KEPT} of all. */
  record(events: LiveEventInput[]): Promise<void>;
  /** Answers what came after `after`, waiting up to `waitMs` for something new. */
  read(after: number, waitMs: number): Promise<LiveEventsPage>;
}

/**
 * One per workspace: the last {@link LIVE_EVENTS_KEPT} messages its collector saw, in memory only. A debugger's
 * feed need not survive an eviction, and keeping it off storage means recording costs no write and no fsync.
 */
export class LiveEventsDO extends DurableObject<Env> {
  private events: LiveEvent[] = [];
  private lastSeq = 0;
  private waiters = new Set<() => void>();

  /** Keeps `events`, and the last {@link LIVE_EVENTS_KEPT} of all. */
  record(events: LiveEventInput[]): void {
    for (const event of events) this.events.push({ seq: ++this.lastSeq, ...event });
    if (this.events.length > LIVE_EVENTS_KEPT) this.events.splice(0, this.events.length - LIVE_EVENTS_KEPT);
    for (const wake of this.waiters) wake();
  }

  /** Answers what came after `after`, waiting up to `waitMs` for something new. */
  async read(after: number, waitMs: number): Promise<LiveEventsPage> {
    // A cursor from before an eviction (the numbering restarted) reads the feed from its start.
    const from = after > this.lastSeq ? 0 : after;
    if (from === this.lastSeq && waitMs > 0) await this.nextRecord(waitMs);
    return { data: this.events.filter((e) => e.seq > from), cursor: this.lastSeq };
  }

  private nextRecord(waitMs: number): Promise<void> {
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
