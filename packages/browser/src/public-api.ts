/**
 * The SDK's public types, written out in plain TypeScript. The engine's own types come from `@tessera/core` and
 * `@tessera/protocol`, whose message types are inferred from zod schemas; declaring the public surface here keeps
 * the published `.d.ts` self-contained, so an app compiles against the SDK without zod's types. This file imports
 * nothing; `public-api-contract.ts` checks at compile time that these types still match the engine's.
 */

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object: `properties`, `traits`, `context`. */
export type JsonObject = { [key: string]: JsonValue };

/** Fields every message may carry (Segment Spec common fields); unknown fields pass through. */
export interface MessageFields {
  userId?: string;
  anonymousId?: string;
  messageId?: string;
  previousId?: string;
  groupId?: string;
  properties?: JsonObject;
  traits?: JsonObject;
  context?: JsonObject;
  integrations?: JsonObject;
  name?: string;
  category?: string;
  timestamp?: string;
  originalTimestamp?: string;
  sentAt?: string;
  [field: string]: unknown;
}

export interface TrackMessage extends MessageFields {
  type: "track";
  event: string;
}
export interface IdentifyMessage extends MessageFields {
  type: "identify";
}
export interface PageMessage extends MessageFields {
  type: "page";
}
export interface ScreenMessage extends MessageFields {
  type: "screen";
}
export interface GroupMessage extends MessageFields {
  type: "group";
  groupId: string;
}
export interface AliasMessage extends MessageFields {
  type: "alias";
  previousId: string;
}
/** One Segment Spec message, as a plugin sees it. */
export type Message = TrackMessage | IdentifyMessage | PageMessage | ScreenMessage | GroupMessage | AliasMessage;

/** When a plugin runs: `before` may drop or rewrite a call, `enrichment` adds data; `after` sees the final message. */
export type PluginStage = "before" | "enrichment" | "after";

/**
 * A plugin (Segment's middleware): receives each message before it is queued and returns it, a new one,
 * or `null` to drop it. Synchronous so a call is queued (and persisted) before it returns.
 *
 * @example tessera.use({ stage: "before", run: (m) => (m.type === "track" && m.event === "Debug" ? null : m) })
 */
export interface Plugin {
  stage?: PluginStage;
  run(message: Message): Message | null | undefined;
}

/**
 * Where consent stands. `pending`: events wait in memory, nothing is stored or sent. `granted`: persist and send.
 * `denied`: events are dropped.
 */
export type ConsentState = "pending" | "granted" | "denied";

/** Who the SDK thinks is on the device: what `user()` returns. */
export interface UserState {
  anonymousId: string;
  userId: string | null;
  traits: JsonObject;
}

/**
 * analytics.js's per-call options: `context` is merged over the page's, `integrations` goes on the message, the ids and
 * `timestamp` override the message's, any other key goes into `context` (`{ ip }` → `context.ip`).
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

/** Full-jitter exponential backoff settings. */
export interface RetryOptions {
  /** First backoff ceiling, ms. Default 1000. */
  baseDelay: number;
  /** Largest backoff ceiling, ms. Default 60000. */
  maxDelay: number;
  /**
   * Attempts in a row before waiting for the next event, `online` or page load; an event is dropped only once it has
   * had this many of its own and 12 h have passed since its first failure. Default 10.
   */
  maxAttempts: number;
  /** Largest `Retry-After` honoured, seconds. Default 300. */
  maxRetryAfter: number;
}

/** Session settings: a new session after `timeout` ms idle, or once a session is `maxLength` ms old. */
export interface SessionOptions {
  timeout: number;
  maxLength: number;
}

/** Options of `tessera.load(writeKey, options)`; the tunables default to reference/sdk.md §4.3. */
export interface LoadOptions {
  /** Collector origin (default: where the script came from). Events go to `{apiHost}/v1/batch`. */
  apiHost?: string;
  /** Start with consent pending: memory only until `setConsent("granted")`. */
  requireConsent?: boolean;
  /** Send a page call on each `pushState`/`popstate` that changes the path or query. */
  trackHistory?: boolean;
  /** Keep the anonymous id in a server-set cookie too: `true` for `{apiHost}/v1/id`, or a URL. */
  idEndpoint?: boolean | string;
  /** Cookie domain, instead of probing for the registrable domain. `""` for host-only. */
  cookieDomain?: string;
  plugins?: Plugin[];
  /** Flush when this many events wait. Default 20. */
  flushAt?: number;
  /** Flush this long after the first waiting event, ms. Default 5000. */
  flushInterval?: number;
  /** Bytes per request. Default 480 KB. */
  maxBatchBytes?: number;
  /** Larger events are dropped with a warning (the server would reject them). Default 32 KB. */
  maxEventBytes?: number;
  /** Queue cap; the oldest go first. Default 1000. */
  maxQueue?: number;
  retry?: Partial<RetryOptions>;
  session?: Partial<SessionOptions>;
}

/**
 * analytics.js's callback, the last argument of track, identify, page, group and alias (also after fewer arguments:
 * `track("Clicked", callback)`): called once the call is delivered, or after 300 ms at the latest, e.g. to navigate.
 */
export type Callback = () => void;

/** The public API: `window.tessera` in a script tag, `createTessera()` on npm. No method ever throws. */
export interface Tessera {
  load(writeKey: string, options?: LoadOptions): void;
  track(event: string, properties?: JsonObject, options?: CallOptions, callback?: Callback): void;
  /**
   * `identify(userId, traits)` or `identify(traits)` for the current user. A user id other than the one identified
   * (another person on a shared device) starts afresh, as analytics.js does: no traits, a new anonymous id.
   */
  identify(userId?: string | null | JsonObject, traits?: JsonObject, options?: CallOptions, callback?: Callback): void;
  /**
   * `page()`, `page(name, properties?)`, `page(category, name, properties?)` or `page(properties)`, as in analytics.js;
   * page fields, `name` and `category` are added to the properties.
   */
  page(properties?: JsonObject, options?: CallOptions, callback?: Callback): void;
  page(name: string | null, properties?: JsonObject, options?: CallOptions, callback?: Callback): void;
  page(
    category: string | null,
    name: string,
    properties?: JsonObject,
    options?: CallOptions,
    callback?: Callback,
  ): void;
  group(groupId: string, traits?: JsonObject, options?: CallOptions, callback?: Callback): void;
  alias(userId: string, previousId?: string | null, options?: CallOptions, callback?: Callback): void;
  reset(): void;
  /** Resolves (and calls `callback`) once loaded and the id is settled (with `idEndpoint`: its answer, at most 1.5 s). */
  ready(callback?: () => void): Promise<void>;
  /** Ids and traits, once loaded. */
  user(): UserState | undefined;
  setConsent(state: ConsentState, categoryPreferences?: Record<string, boolean>): void;
  flush(): Promise<void>;
  use(plugin: Plugin): void;
}
