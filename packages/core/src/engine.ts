import type { JsonObject, JsonValue, Message } from "@tessera/protocol";
import { batchBody, takeBatch, utf8Bytes } from "./batch";
import type { ConsentDecision } from "./consent";
import { Delivery, type Lock } from "./delivery";
import { KEYS, type KeyValue } from "./key-value";
import { createMessage, type MessageFields } from "./message";
import { uuid, warn } from "./platform";
import { type Plugin, runPlugins } from "./plugin";
import { Queue, type QueueItem } from "./queue";
import { DEFAULT_RETRY, type RetryOptions } from "./retry-policy";
import { DEFAULT_SESSION, type SessionOptions, touchSession } from "./session";
import { memoryStorage, type Storage } from "./storage";
import type { Transport } from "./transport";
import { User, type UserState } from "./user";

/** Settings of an {@link Engine}: the platform's seams plus tunables (defaults from reference/sdk.md §4.3). */
export interface EngineOptions {
  writeKey: string;
  /** Origin of the collector, e.g. `https://collect.example.com`; messages go to `{apiHost}/v1/batch`. */
  apiHost: string;
  transport: Transport;
  /**
   * Opens the persistent queue storage; called only once consent allows storing, or with `existing` when consent is
   * denied, to delete what earlier pages stored (it must then create nothing).
   */
  storage: (existing?: boolean) => Storage;
  kv: KeyValue;
  /** Cross-process flush lock; default: none needed (one process). */
  lock?: Lock;
  /**
   * The latest anonymous id renamed across processes (`[from, to]`): stamped on what a flush sends. Another process
   * (tab) holds its own copies of stored items, and a failed send writes them back, so a rename made in one process
   * is only certain to reach every item at the moment of sending.
   */
  renamedId?: () => [from: string, to: string] | undefined;
  /** Platform context at call time (page, user agent, locale…). */
  context?: () => JsonObject;
  library?: { name: string; version: string };
  /** Start in `pending` consent: memory only, nothing sent until `setConsent`. Default false. */
  requireConsent?: boolean;
  /** Flush when this many events wait. Default 20. */
  flushAt?: number;
  /** Flush this long after the first waiting event, ms. Default 5000. */
  flushInterval?: number;
  /** Messages per request (halved on 413). Default 500. */
  maxBatchSize?: number;
  /** Bytes per request. Default 480 KB. */
  maxBatchBytes?: number;
  /** Larger events are dropped with a warning (the server would reject them). Default 32 KB. */
  maxEventBytes?: number;
  /** Queue cap; the oldest go first. Default 1000. */
  maxQueue?: number;
  retry?: Partial<RetryOptions>;
  session?: Partial<SessionOptions>;
  isOnline?: () => boolean;
  random?: () => number;
  now?: () => number;
  uuid?: () => string;
  /** Told when consent changes, so the platform can start (or stop) persisting ids. */
  onConsent?: (decision: ConsentDecision) => void;
}

/**
 * analytics.js's per-call options: `context` is merged over the platform's (e.g. the page at the time a stub call was
 * made), `integrations` goes on the message, the ids and `timestamp` override the message's, any other key goes into
 * `context` (`{ ip }` → `context.ip`).
 */
export interface CallOptions {
  context?: JsonObject;
  integrations?: JsonObject;
  /** A caller's idempotency key (e.g. the order id, also sent from the backend): the server stores the event once. */
  messageId?: string;
  anonymousId?: string;
  userId?: string;
  timestamp?: Date | string;
  [key: string]: JsonValue | Date | undefined;
}

/**
 * The platform-neutral SDK: builds Segment Spec messages, stamps identity and session, runs plugins,
 * queues them persistently and delivers them. Platforms supply storage, transport and context.
 *
 * @example
 * const engine = new Engine({ writeKey, apiHost, transport, storage: () => idbStorage, kv });
 * engine.track("Order Completed", { total: 42 });
 */
export class Engine {
  private _o: EngineOptions;
  private _queue: Queue;
  private _delivery: Delivery;
  private _user: User;
  private _plugins: Plugin[] = [];
  private _consent: ConsentDecision;
  private _lastT = 0;

  constructor(options: EngineOptions) {
    const o = options;
    this._o = o;
    o.now ??= Date.now;
    o.maxEventBytes ??= 32_768;
    o.flushAt ??= 20;
    o.flushInterval ??= 5000;
    const now = o.now;
    this._consent = { state: o.requireConsent ? "pending" : "granted" };
    this._user = new User(o.kv, o.uuid);
    this._queue = new Queue(o.requireConsent ? memoryStorage() : o.storage(), o.maxQueue ?? 1000);
    this._delivery = new Delivery(this._queue, {
      url: `${o.apiHost.replace(/\/$/, "")}/v1/batch`,
      writeKey: o.writeKey,
      transport: o.transport,
      lock: o.lock || ((fn) => fn()),
      renamedId: o.renamedId,
      retry: { ...DEFAULT_RETRY, ...o.retry },
      maxBatchSize: o.maxBatchSize ?? 500,
      maxBatchBytes: o.maxBatchBytes ?? 480_000,
      inBeacon: (k) => k in this._beaconed(),
      // Withdrawn consent stops a running flush before its next batch, as going offline does.
      isOnline: () => this._consent.state === "granted" && !(o.isOnline && !o.isOnline()),
      random: o.random || Math.random,
      now,
    });
  }

  track(event: string, properties?: JsonObject, options?: CallOptions): void {
    this._enqueue("track", { event, properties: properties || {} }, options);
  }

  /** Sets (or keeps) the user id and merges traits; a new user id starts with fresh traits. */
  identify(userId?: string | null, traits?: JsonObject, options?: CallOptions): void {
    const merged = this._user.identify(userId, traits);
    this._enqueue("identify", { traits: merged }, options);
  }

  page(name?: string | null, properties?: JsonObject, options?: CallOptions, category?: string | null): void {
    const fields: MessageFields = { properties: properties || {} };
    if (name) fields.name = name;
    if (category) fields.category = category;
    this._enqueue("page", fields, options);
  }

  group(groupId: string, traits?: JsonObject, options?: CallOptions): void {
    this._enqueue("group", { groupId: String(groupId), traits: traits || {} }, options);
  }

  /** Links `previousId` (default: the current user or anonymous id) to `userId`. */
  alias(userId: string, previousId?: string | null, options?: CallOptions): void {
    const u = this._user;
    this._enqueue("alias", { userId, previousId: previousId ?? (u.userId() || u.anonymousId()) }, options);
  }

  /** Forgets the user: new anonymous id, no user id, no traits, new session. Queued events keep their ids. */
  reset(): void {
    this._user.reset();
  }

  /**
   * Sends nothing until `until` settles: calls are still queued and stored at once, and pagehide still beacons them
   * (the platform is learning who the visitor is, e.g. from a server-set cookie). Returns `until`.
   */
  hold<T>(until: Promise<T>): Promise<T> {
    this._delivery._gate = until;
    return until;
  }

  /**
   * The visitor turned out to be `to` after calls were stamped with `from`, an id minted only because the answer had
   * not come yet: what is still queued carries `to`, as if the calls had waited for it. Sent events keep `from`.
   */
  renameAnonymousId(from: string, to: string): void {
    const items = this._queue.snapshot().filter(([, i]) => i.m.anonymousId === from);
    for (const [, i] of items) i.m.anonymousId = to;
    void this._queue.save(items);
  }

  user(): UserState {
    return this._user.state();
  }

  use(plugin: Plugin): void {
    this._plugins.push(plugin);
  }

  get consent(): ConsentDecision {
    return this._consent;
  }

  /** Records a consent decision: granted persists and flushes the buffer, denied deletes what is queued. */
  setConsent(decision: ConsentDecision): Promise<void> {
    const before = this._consent.state;
    this._consent = decision;
    this._o.onConsent?.(decision);
    if (decision.state === "denied") {
      // Pending kept this page's events in memory, but earlier pages that had consent stored theirs.
      const cleared = this._queue.clear();
      return before === "granted" ? cleared : cleared.then(() => this._queue.clear(this._o.storage(true)));
    }
    if (decision.state === "pending") {
      // Pending again (a consent manager asking anew, say after its policy changed) is undecided, not withdrawn:
      // nothing new is stored or sent, but what the grant let earlier calls store (ids, queued events) stays, unsent.
      // Erasing is a denial's job, here and in consent managers' wording: a grant then sends it, a denial deletes it.
      this._queue.hold();
      return Promise.resolve();
    }
    if (before === "granted") return Promise.resolve();
    // Events buffered while pending carry the decision they waited for, as later ones do (sdk.md §4.2.9).
    const categoryPreferences = decision.categoryPreferences;
    if (categoryPreferences)
      for (const [, i] of this._queue.snapshot()) i.m.context!.consent ??= { categoryPreferences };
    return this._queue.adopt(this._o.storage()).then(() => this.flush());
  }

  /** Sends everything queued now; resolves when done (or backing off). Never rejects. */
  flush(): Promise<void> {
    return this._consent.state === "granted" ? this._delivery.flush() : Promise.resolve();
  }

  /**
   * Page is going away: hands what is queued to `send` (a beacon) synchronously, in bodies within `budget`
   * bytes, halving any the platform refuses. Sent items stay stored: a regular flush resends them after
   * 5 minutes unless acknowledged (at-least-once; the server deduplicates on messageId).
   */
  beacon(send: (body: string) => boolean, budget: number): void {
    // Offline, a beacon is lost for sure: leave the events stored for the next page instead.
    const offline = (this._o.isOnline && !this._o.isOnline()) || this._delivery.unreachable;
    if (this._consent.state !== "granted" || offline) return;
    const now = this._o.now!();
    const d = this._delivery;
    const sent: string[] = [];
    const trySend = (chunk: [string, QueueItem][]): boolean => {
      const body = batchBody(
        chunk.map(([, i]) => i.m),
        this._o.writeKey,
        new Date(now),
      );
      const bytes = utf8Bytes(body);
      if (bytes <= budget && send(body)) {
        budget -= bytes;
        for (const [k] of chunk) sent.push(k);
        return true;
      }
      const half = Math.ceil(chunk.length / 2);
      return chunk.length > 1 && trySend(chunk.slice(0, half)) && trySend(chunk.slice(half));
    };
    const marks = this._beaconed();
    let rest = this._queue.snapshot().filter(([k]) => !d.inFlight.has(k) && !(k in marks));
    while (rest.length && budget > 200) {
      const chunk = takeBatch(rest, 500, budget);
      if (!trySend(chunk)) break;
      rest = rest.slice(chunk.length);
    }
    // Requests in flight are keepalive fetches that outlive the page, but their acknowledgement dies with it:
    // the next page must not resend them at once either.
    for (const k of [...sent, ...d.inFlight]) marks[k] = now;
    // Synchronous storage: an IndexedDB write started in pagehide is aborted with the page.
    this._o.kv.set(KEYS.beaconed, JSON.stringify(marks));
  }

  /** Message ids a beacon carried within the last 5 minutes (older marks expire: resend, the server dedupes). */
  private _beaconed(): Record<string, number> {
    const now = this._o.now!();
    const marks: Record<string, number> = {};
    try {
      for (const [k, t] of Object.entries(
        JSON.parse(this._o.kv.get(KEYS.beaconed) || "{}") as Record<string, number>,
      )) {
        if (t > now - 300_000) marks[k] = t;
      }
    } catch {}
    return marks;
  }

  private _enqueue(type: Message["type"], fields: MessageFields, options: CallOptions = {}): void {
    const o = this._o;
    if (this._consent.state === "denied") return;
    const now = o.now!();
    const session = touchSession(o.kv, now, { ...DEFAULT_SESSION, ...o.session });
    const { context: callContext, integrations, messageId, anonymousId, userId, timestamp, ...rest } = options;
    const context: JsonObject = {
      library: o.library || { name: "tessera-core", version: "0.1.0" },
      ...o.context?.(),
      ...callContext,
      ...(rest as JsonObject),
      sessionId: session.id,
    };
    if (session.start) context.sessionStart = true;
    if (this._consent.categoryPreferences) context.consent = { categoryPreferences: this._consent.categoryPreferences };
    const at = new Date(timestamp || now);
    if (Number.isNaN(+at)) {
      warn("invalid timestamp", timestamp);
      at.setTime(now);
    }
    const u = this._user;
    const stamp = {
      messageId: messageId || (o.uuid || uuid)(),
      anonymousId: anonymousId || u.anonymousId(),
      userId: userId || u.userId(),
      timestamp: at,
      context,
    };
    const created = createMessage(type, fields, stamp);
    if (integrations) created.integrations = integrations;
    const m = runPlugins(this._plugins, created);
    if (!m) return;
    // The message id is the queue's key too: a plugin's new message without one would replace the last such event.
    m.messageId ||= stamp.messageId;
    const json = JSON.stringify(m);
    if (utf8Bytes(json) > o.maxEventBytes!) {
      warn("event over the size limit dropped", type);
      return;
    }
    // Strictly increasing enqueue times keep call order through storage, which returns entries by key.
    this._lastT = Math.max(now, this._lastT + 0.001);
    // Queue what will be sent, JSON-clean: a function or DOM node in the caller's properties would make
    // IndexedDB's structured clone throw, and the message could change after the call.
    void this._queue.push({ m: JSON.parse(json), t: this._lastT });
    if (this._consent.state !== "granted" || this._delivery.backingOff) return;
    if (this._queue.size >= o.flushAt!) void this._delivery.flush();
    else this._delivery.schedule(o.flushInterval!);
  }
}
