import type { JsonObject } from "@tessera/protocol";
import type { ConsentDecision } from "./consent";
import { type Lock } from "./delivery";
import type { KeyValue } from "./key-value";
import { type Plugin } from "./plugin";
import { type RetryOptions } from "./retry-policy";
import { type SessionOptions } from "./session";
import { type Storage } from "./storage";
import type { Transport } from "./transport";
import { type UserState } from "./user";
/** Settings of an {@link Engine}: the platform's seams plus tunables (defaults from reference/sdk.md §4.3). */
export interface EngineOptions {
  writeKey: string;
  /** Origin of the collector, e.g. `https://collect.example.com`; messages go to `{apiHost}/v1/batch`. */
  apiHost: string;
  transport: Transport;
  /** Opens the persistent queue storage; called only once consent allows storing. */
  storage: () => Storage;
  kv: KeyValue;
  /** Cross-process flush lock; default: none needed (one process). */
  lock?: Lock;
  /** Platform context at call time (page, user agent, locale…). */
  context?: () => JsonObject;
  library?: {
    name: string;
    version: string;
  };
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
/** Extra per-call data: context merged over the platform's (e.g. the page at the time a stub call was made). */
export interface CallOptions {
  context?: JsonObject;
  timestamp?: Date;
}
/**
 * The platform-neutral SDK: builds Segment Spec messages, stamps identity and session, runs plugins,
 * queues them persistently and delivers them. Platforms supply storage, transport and context.
 *
 * @example
 * const engine = new Engine({ writeKey, apiHost, transport, storage: () => idbStorage, kv });
 * engine.track("Order Completed", { total: 42 });
 */
export declare class Engine {
  private _o;
  private _queue;
  private _delivery;
  private _user;
  private _plugins;
  private _consent;
  private _lastT;
  constructor(options: EngineOptions);
  track(event: string, properties?: JsonObject, options?: CallOptions): void;
  /** Sets (or keeps) the user id and merges traits; a new user id starts with fresh traits. */
  identify(userId?: string | null, traits?: JsonObject, options?: CallOptions): void;
  page(name?: string | null, properties?: JsonObject, options?: CallOptions): void;
  group(groupId: string, traits?: JsonObject, options?: CallOptions): void;
  /** Links `previousId` (default: the current user or anonymous id) to `userId`. */
  alias(userId: string, previousId?: string | null, options?: CallOptions): void;
  /** Forgets the user: new anonymous id, no user id, no traits, new session. Queued events keep their ids. */
  reset(): void;
  user(): UserState;
  use(plugin: Plugin): void;
  get consent(): ConsentDecision;
  /** Records a consent decision: granted persists and flushes the buffer, denied drops it. */
  setConsent(decision: ConsentDecision): Promise<void>;
  /** Sends everything queued now; resolves when done (or backing off). Never rejects. */
  flush(): Promise<void>;
  /**
   * Page is going away: hands what is queued to `send` (a beacon) synchronously, in bodies within `budget`
   * characters, halving any the platform refuses. Sent items stay stored until a later flush is acknowledged.
   */
  beacon(send: (body: string) => boolean, budget: number): void;
  private _enqueue;
}
