/**
 * The contract between the sync engine and one vendor (DESIGN §7, reference/maps.md §4). The engine owns queues,
 * coalescing, chunking to `limits`, rate limiting and concurrency, retries with backoff, dead letters, the vendor-id
 * cache and the sync log. A plugin owns only the vendor's HTTP shapes, the mapping of traits to its fields, and one
 * outcome per item, in order: one bad contact never fails its batch.
 *
 * Plugins are plain TypeScript over `fetch` and WebCrypto (no Worker bindings), so they run the same in the Worker
 * and in Node tests against the mock vendor servers.
 */

/** Who an item is about. The four MAPs key contacts by email; the engine skips profiles without one. */
export interface ContactIdentity {
  profileId: string;
  /** Lowercased and trimmed by the engine. */
  email?: string;
  /** The vendor's own record id (HubSpot record id, Klaviyo profile id, Marketo lead id) when the engine knows it. */
  vendorId?: string;
}

/**
 * Who a GDPR delete is about: a person merged from several profiles had several emails, and the vendor may hold a
 * contact under each (or, merged or renamed there, under an id Tessera recorded).
 */
export interface ErasedContact {
  profileId: string;
  /** Every email the person had, lowercased, trimmed and unique (the four MAPs key contacts by email). */
  emails: string[];
  /** The vendor's ids Tessera recorded for those emails at this destination (HubSpot record, Klaviyo profile, Marketo lead). */
  vendorIds: string[];
  /** Every identifier the person had: a webhook tells its receiver all of them, keyed as it may be by any. */
  identifiers: ReadonlyArray<{ type: string; value: string }>;
}

/**
 * The profile an item is about, as the engine read it, with only the destination's synced traits and computed traits
 * (the webhook destination sends it; MAPs ignore it).
 */
export interface ProfileSnapshot {
  id: string;
  identifiers: Array<{ type: string; value: string }>;
  traits: Record<string, unknown>;
  computed: Record<string, unknown>;
}

/** Create or update a contact with these traits (already Segment-named: `first_name`, `city`, custom keys …). */
export interface ContactUpsert {
  identity: ContactIdentity;
  traits: Record<string, unknown>;
  profile?: ProfileSnapshot;
  /** When the change happened (ISO-8601), as the profile recorded it. */
  at?: string;
}

/** Add (`member: true`) or remove a contact from the vendor-side list of one audience. */
export interface MembershipOp {
  identity: ContactIdentity;
  member: boolean;
  /** The contact's traits, for vendors that must create the contact before listing it. */
  traits?: Record<string, unknown>;
  profile?: ProfileSnapshot;
  /** When the change happened (ISO-8601), as the profile recorded it. */
  at?: string;
}

/** An audience as a vendor list: `name` is `tessera_<audience key>`. */
export interface AudienceList {
  key: string;
  name: string;
}

export type FailCode = "invalid_identity" | "invalid_payload" | "not_found" | "compliance" | "auth" | "config";

/**
 * What happened to one item. `vendorId` (on `ok`) is remembered so later calls can use the vendor's id; `note` (on
 * `ok`) is what the sync log should say about a success that left something out. `job` (on `ok`): the vendor only
 * accepted the item into an asynchronous job of that id, whose real outcome the engine reads later
 * ({@link DestinationPlugin.jobOutcome}). `waitsFor` (on `retry`) is the engine's own: it holds an item for a job it
 * still awaits (a removal the job would undo, an upsert it would overwrite), and such a retry spends no attempt.
 */
export type Outcome =
  | { status: "ok"; vendorId?: string; note?: string; job?: string }
  | { status: "retry"; reason: string; retryAfterMs?: number; waitsFor?: string }
  | { status: "fail"; code: FailCode; message: string }
  | { status: "skip"; reason: string };

/**
 * Thrown when the vendor says "slow down" for the whole account (HubSpot 429 with its interval header, Klaviyo 429 +
 * Retry-After, Marketo 606/607/615 inside an HTTP 200): the engine pauses the destination, then retries every item.
 */
export class Throttled extends Error {
  constructor(
    readonly retryAfterMs: number,
    message = "throttled by the vendor",
  ) {
    super(message);
    this.name = "Throttled";
  }
}

/** Thrown when the credentials are refused (not a transient failure): the engine records it and stops the batch. */
export class AuthRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthRefused";
  }
}

/**
 * Thrown when the destination's address answers with a redirect (3xx, fetched with `redirect: "manual"`): nothing was
 * delivered. Followed, the POST would go on as a GET without its body to whatever host `Location` names, signature or
 * credentials along, and that host's 200 would count the item delivered while it was lost. Like {@link AuthRefused}
 * it is about the destination's config, not the items: the engine pauses the destination and keeps them.
 *
 * @example
 * const res = Redirected.check(url, await fetch(url, { method: "POST", body, redirect: "manual" }));
 */
export class Redirected extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly location: string | null,
  ) {
    super(
      location === null
        ? `${url} answered a redirect (HTTP ${status}) without a Location: nothing was delivered; set the destination's URL to the final address`
        : `${url} redirects to ${location} (HTTP ${status}): nothing was delivered; set the destination's URL to the final address`,
    );
    this.name = "Redirected";
  }

  /** `res`, unless it is a redirect: then its body is dropped and a `Redirected` thrown. */
  static async check(url: string, res: Response): Promise<Response> {
    if (res.status < 300 || res.status >= 400) return res;
    await res.body?.cancel();
    // Named in full: a relative `Location` is of the address redirected.
    const location = res.headers.get("location");
    const target = location !== null && URL.canParse(location, url) ? new URL(location, url).href : location;
    throw new Redirected(url, res.status, target);
  }
}

/**
 * `fetch` that follows no redirect: a 3xx answer throws `Redirected`. The fetch every plugin is given (the engine's
 * gate, a connection test's) is this one, so no vendor call of any plugin follows a redirect.
 */
export async function fetchRefusingRedirects(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, { ...init, redirect: "manual" });
  return Redirected.check(input instanceof Request ? input.url : String(input), res);
}

/** What a plugin may use besides its config. */
export interface PluginContext<Config> {
  config: Config;
  /** The destination being synced (the webhook destination names both in what it sends). */
  destination?: { id: string; workspaceId: string };
  /** `fetch`, injectable so tests can count or fault calls; never throws on an HTTP status. */
  fetch: typeof fetch;
  now(): number;
  /** A per-destination key-value store the plugin may use for tokens and list ids (the engine persists it). */
  store: {
    get(key: string): Promise<string | undefined>;
    put(key: string, value: string, ttlMs?: number): Promise<void>;
  };
}

/** Per-vendor sizes and pace, from the vendor's documentation (maps.md §1). */
export interface PluginLimits {
  /** Items per upsert call. */
  upsertBatch: number;
  /** Items per membership call. */
  membershipBatch: number;
  /** Calls in flight per destination. */
  concurrency: number;
  /**
   * HTTP requests allowed per window per destination: the engine counts every request made through `ctx.fetch` and
   * waits before a plugin call while the window is full (a call that makes several requests may overshoot a little;
   * the vendor's own throttling signal, thrown as `Throttled`, is the backstop).
   */
  rate: { limit: number; perMs: number };
  /**
   * For a vendor without published limits (a customer's own endpoint): the gate may grow past `concurrency`, and
   * `rate.limit` in proportion, up to this many requests in flight while every answer comes back good and fast, and
   * halves again on the first 408, 429, 5xx or network error (see `VendorGate`). Without it the limits are fixed.
   */
  maxConcurrency?: number;
  /**
   * The header in which the vendor says, on every answer, how many requests its window still admits, where that
   * window covers every request of the account (HubSpot's ten-secondly `X-HubSpot-RateLimit-Remaining`, whose length
   * is `rate.perMs`): the gate then also counts the requests other callers made (see `VendorGate`). Not for a header
   * that counts one endpoint's window only (Klaviyo's `RateLimit-Remaining`): it would hold every other endpoint's.
   */
  remainingHeader?: string;
}

export interface DestinationPlugin<Config = Record<string, unknown>> {
  type: string;
  /** Validates a destination's `config` on save; returns the first problem as `field: reason`, or null. */
  validateConfig(config: unknown): string | null;
  /** Config fields masked on read (`"…abcd"`). */
  secretFields: readonly string[];
  limits: PluginLimits;
  /** A cheap authenticated call: throws `AuthRefused` or an Error with the vendor's message. */
  testConnection(ctx: PluginContext<Config>): Promise<void>;
  /** Creates or updates contacts; one outcome per item, same order. */
  upsertContacts(ctx: PluginContext<Config>, items: ContactUpsert[]): Promise<Outcome[]>;
  /** Applies list membership (finding or creating the list); one outcome per item, same order. */
  applyMemberships(ctx: PluginContext<Config>, list: AudienceList, items: MembershipOp[]): Promise<Outcome[]>;
  /**
   * GDPR: deletes every contact the vendor holds for the erased person, with the vendor's own delete call (batched
   * where the vendor allows it). One outcome for the person: `ok` once each is gone (one the vendor never had
   * counts), `skip` when there is nothing to delete by.
   */
  deleteContact(ctx: PluginContext<Config>, person: ErasedContact): Promise<Outcome>;
  /**
   * For a plugin whose `ok` outcomes may name a `job`: how that job ended, or undefined while it still runs (or its
   * state cannot be read now; the engine asks again later).
   */
  jobOutcome?(ctx: PluginContext<Config>, job: string): Promise<JobOutcome | undefined>;
}

/**
 * How a vendor's asynchronous job ended, for the items the engine sent in it (by the email each was sent with).
 * `failed`: the items the vendor named, each with its outcome. `others`: the outcome of every other item of the job,
 * when the job as a whole did not do its work (cancelled); left out, they went through. `unnamed`: failures the
 * vendor counted without saying whose, as the destination's error. `vendorIds`: the vendor's ids of the contacts the
 * job wrote, by email, recorded for its items that went through as an `ok`'s `vendorId` is (an engagement webhook may
 * name the contact by nothing else). `more`: the job's ids are read a part at a time (10,000 contacts are 100 pages);
 * the engine keeps the job and asks again, and the next answer carries only further `vendorIds`.
 */
export interface JobOutcome {
  failed: Array<{ email: string; outcome: Extract<Outcome, { status: "retry" | "fail" }> }>;
  others?: Extract<Outcome, { status: "retry" | "fail" }>;
  unnamed?: string;
  vendorIds?: Array<{ email: string; vendorId: string }>;
  more?: true;
}

/** An inbound request exactly as received: verification reads the raw bytes before anything is parsed. */
export interface RawInbound {
  method: string;
  /** The full URL as received, query included (HubSpot signs it). */
  url: string;
  headers: Headers;
  body: Uint8Array;
}

/** Segment email-spec event names (DESIGN §7). */
export type EngagementEventName =
  | "Email Delivered"
  | "Email Opened"
  | "Email Link Clicked"
  | "Email Bounced"
  | "Email Marked as Spam"
  | "Unsubscribed";

/** One engagement the vendor reported, to be stored as a track event on the profile found by email or vendor id. */
export interface Engagement {
  /** The vendor's id for this event: the stored message id derives from it, so a redelivery is stored once. */
  vendorEventId: string;
  event: EngagementEventName;
  email?: string;
  vendorId?: string;
  /** ISO-8601. */
  occurredAt: string;
  properties: Record<string, unknown>;
}

/** Verification and parsing of a vendor's webhooks. */
export interface InboundSource<Config = Record<string, unknown>> {
  type: string;
  /** A request the vendor sends to check the URL (Mailchimp's GET), answered without verification; else undefined. */
  handshake?(req: RawInbound): Response | undefined;
  /** Checks the signature (constant time) and the 5-minute replay window on the raw bytes. */
  verify(req: RawInbound, config: Config, now: number): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** The engagements in a verified request (many per request); unknown event kinds are left out. */
  parse(req: RawInbound): Engagement[];
  /**
   * The vendor documents that it sends a webhook again after a `429`: when the collector is out of room, the route
   * pushes back (the vendor sends the same body later, stored once by message id) instead of queueing a backlog. Left
   * out, for a vendor that would drop a webhook answered non-2xx (or whose retries are not known), the route answers
   * `200` with the work queued.
   */
  redeliversAfter429?: true;
}

/** The replay window for every signed webhook (DESIGN §7). */
export const WEBHOOK_TOLERANCE_MS = 5 * 60 * 1000;

/**
 * Engagement read from the vendor's API, for vendors without a push for it (Marketo activities, HubSpot email
 * events, Mailchimp campaign email activity). The engine runs it on cron and keeps `cursor` per destination.
 */
export interface EngagementPoller<Config = Record<string, unknown>> {
  type: string;
  /** From `cursor` (undefined: start from `now` − a day): the engagements after it and the cursor to resume from. */
  poll(
    ctx: PluginContext<Config>,
    cursor: string | undefined,
  ): Promise<{ engagements: Engagement[]; cursor: string; more: boolean }>;
}
