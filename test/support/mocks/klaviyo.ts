/**
 * A local Klaviyo (reference/maps.md §2.3, revision 2026-07-15) on the shared mock frame: private-key auth and a
 * required `revision` header, JSON:API documents and error envelopes, profiles unique by email, phone and external
 * id (409 `duplicate_profile`), `profile-import` upserts, profile bulk import jobs (≤ 10,000 profiles, validated
 * synchronously, processed a moment later; their import errors and the profiles they imported), profile and list
 * filters, list relationships (≤ 1,000), data-privacy deletion jobs, and per-endpoint burst + steady rate limits
 * answering 429 with `Retry-After`.
 * `emitWebhook` sends a system webhook signed as Klaviyo signs it.
 *
 * Behaviour the docs leave open ([M] in maps.md) is chosen here and said so where it is modelled.
 *
 * @example
 * const mock = await startMockKlaviyo({ rateLimits: { relationships: { burst: 10, steady: 2 } } });
 * // … run the plugin with { api_key: mock.apiKey, base_url: mock.url } …
 * mock.listMembers("tessera_vip"); // ["ada@example.com"]
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import { concatBytes, hmacSha256, toHex } from "../../../workers/sync/hmac";
import { type MockServerOptions, type MockVendor, SlidingWindowLimiter, startMockVendor } from "./mock-vendor";

type Endpoint =
  | "profile-import"
  | "profiles"
  | "lists"
  | "list-create"
  | "relationships"
  | "deletion"
  | "bulk-import"
  | "bulk-import-read";

export interface KlaviyoRateLimit {
  /** Requests per burst window (1 s at Klaviyo). */
  burst: number;
  /** Requests per steady window (1 min at Klaviyo). */
  steady: number;
}

/** Klaviyo's published limits for each endpoint used (OpenAPI 2026-07-15 `x-klaviyo-ratelimit`). */
const RATE_LIMITS: Record<Endpoint, KlaviyoRateLimit> = {
  "profile-import": { burst: 75, steady: 750 },
  profiles: { burst: 75, steady: 750 },
  lists: { burst: 75, steady: 750 },
  "list-create": { burst: 10, steady: 150 },
  relationships: { burst: 10, steady: 150 },
  deletion: { burst: 3, steady: 60 },
  "bulk-import": { burst: 10, steady: 150 },
  // [M] The OpenAPI document gives reading a job its own limits; taken here as those of creating one.
  "bulk-import-read": { burst: 10, steady: 150 },
};

export interface MockKlaviyoOptions extends MockServerOptions {
  /** Accepted private keys, one account each (default `["pk_test"]`). */
  apiKeys?: string[];
  /** Per-endpoint limits replacing Klaviyo's, to reach them quickly in tests. */
  rateLimits?: Partial<Record<Endpoint, KlaviyoRateLimit>>;
  /** Window lengths (default 1,000 and 60,000 ms). */
  burstWindowMs?: number;
  steadyWindowMs?: number;
  /** How long a bulk import job stays `queued` before it is processed (default 100 ms; Klaviyo's is not published). */
  bulkImportDelayMs?: number;
}

/** A stored profile: its id and attributes as Klaviyo returns them. */
export interface MockProfile {
  id: string;
  email?: string;
  phone_number?: string;
  external_id?: string;
  first_name?: string;
  last_name?: string;
  organization?: string;
  title?: string;
  location: Record<string, unknown>;
  properties: Record<string, unknown>;
  [attribute: string]: unknown;
}

interface MockList {
  id: string;
  name: string;
  created: string;
  members: Set<string>;
}

interface Account {
  profiles: Map<string, MockProfile>;
  lists: Map<string, MockList>;
  deletionJobs: Array<Record<string, string>>;
  bulkImportJobs: Map<string, MockBulkImportJob>;
}

/** One event of a system webhook; `topic` is the metric slug (`opened_email`) or a full topic id. */
export interface KlaviyoWebhookEvent {
  topic: string;
  /** The event id (default: generated). */
  id?: string;
  profileId?: string;
  email?: string;
  /** ISO-8601 (default: now). */
  datetime?: string;
  /** `event_properties`, e.g. `{ Subject: "Hello", URL: "https://…" }`. */
  properties?: Record<string, unknown>;
}

export interface KlaviyoWebhookOptions {
  webhookId?: string;
  /** When the request is sent (default: now): set it in the past to send a stale one. */
  at?: Date;
  accountId?: string;
}

export interface MockKlaviyo extends MockVendor {
  /** The first accepted key. */
  apiKey: string;
  /** The account's profiles (copies). */
  profiles(apiKey?: string): MockProfile[];
  /** The account's lists, or those of one name (Klaviyo allows two lists of one name). */
  lists(name?: string, apiKey?: string): Array<{ id: string; name: string }>;
  /** The emails (or ids, for profiles without one) on the first list of that name, sorted. */
  listMembers(name: string, apiKey?: string): string[];
  /** The identifier of each deletion job received. */
  deletionJobs(apiKey?: string): Array<Record<string, string>>;
  /** The account's profile bulk import jobs, oldest first (copies). */
  bulkImportJobs(apiKey?: string): MockBulkImportJob[];
  /** How long a job received from now on stays `queued` (`reset()` restores the option's). */
  setBulkImportDelay(ms: number): void;
  /**
   * Runs every job still `queued` now, oldest first, as Klaviyo does when it gets to them: their profiles are written
   * then, over whatever `profile-import` wrote since the job was received. Answers how many ran.
   */
  runBulkImportJobs(apiKey?: string): number;
  /** Turns rate limiting on or off (on by default). */
  setRateLimiting(enabled: boolean): void;
  /** Each endpoint's burst and steady windows (their limits can be changed while running). */
  readonly limits: Record<Endpoint, { burst: SlidingWindowLimiter; steady: SlidingWindowLimiter }>;
  emitWebhook(
    url: string,
    events: KlaviyoWebhookEvent[],
    secret: string,
    options?: KlaviyoWebhookOptions,
  ): Promise<Response>;
}

const ATTRIBUTES = new Set([
  "email",
  "phone_number",
  "external_id",
  "anonymous_id",
  "_kx",
  "first_name",
  "last_name",
  "organization",
  "locale",
  "title",
  "image",
  "location",
  "properties",
]);
const LOCATION_FIELDS = new Set([
  "address1",
  "address2",
  "city",
  "country",
  "latitude",
  "longitude",
  "region",
  "zip",
  "timezone",
  "ip",
]);
const IDENTIFIERS = ["email", "phone_number", "external_id"] as const;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const E164 = /^\+[1-9]\d{6,14}$/;
const REVISION = /^\d{4}-\d{2}-\d{2}(\.\w+)?$/;
const MEDIA_TYPES = ["application/vnd.api+json", "application/json"];

interface ApiError {
  code: string;
  title: string;
  detail: string;
  source?: { pointer?: string; parameter?: string };
  meta?: Record<string, unknown>;
}

/** A refusal, thrown from any handler and answered by `onError` (Hono hands it only what extends Error). */
class Rejection extends Error {
  constructor(
    readonly status: number,
    readonly errors: ApiError[],
  ) {
    super(errors[0]?.detail);
  }
}

const invalid = (detail: string, source: ApiError["source"]): ApiError => ({
  code: "invalid",
  title: "Invalid input.",
  detail,
  source,
});

/** Starts a mock Klaviyo on a free port. */
export async function startMockKlaviyo(options: MockKlaviyoOptions = {}): Promise<MockKlaviyo> {
  const apiKeys = options.apiKeys ?? ["pk_test"];
  const accounts = new Map<string, Account>();
  const newAccounts = () => {
    for (const key of apiKeys)
      accounts.set(key, { profiles: new Map(), lists: new Map(), deletionJobs: [], bulkImportJobs: new Map() });
  };
  newAccounts();
  const limits = Object.fromEntries(
    (Object.keys(RATE_LIMITS) as Endpoint[]).map((endpoint) => {
      const limit = options.rateLimits?.[endpoint] ?? RATE_LIMITS[endpoint];
      return [
        endpoint,
        {
          burst: new SlidingWindowLimiter(limit.burst, options.burstWindowMs ?? 1000),
          steady: new SlidingWindowLimiter(limit.steady, options.steadyWindowMs ?? 60_000),
        },
      ];
    }),
  ) as Record<Endpoint, { burst: SlidingWindowLimiter; steady: SlidingWindowLimiter }>;
  let sequence = 0;
  const nextId = () => ++sequence;
  const bulkImport = { delayMs: options.bulkImportDelayMs ?? 100 };

  const mock = await startMockVendor(
    (app) => defineRoutes(app, { accounts, limits, nextId, bulkImport }),
    () => {
      newAccounts();
      bulkImport.delayMs = options.bulkImportDelayMs ?? 100;
      for (const { burst, steady } of Object.values(limits)) {
        burst.reset();
        steady.reset();
      }
    },
    options,
  );
  const account = (apiKey = apiKeys[0]) => accounts.get(apiKey) as Account;
  const firstList = (name: string, apiKey?: string) => [...account(apiKey).lists.values()].find((l) => l.name === name);
  return Object.assign(mock, {
    apiKey: apiKeys[0],
    limits,
    profiles: (apiKey?: string) => [...account(apiKey).profiles.values()].map((p) => structuredClone(p)),
    lists: (name?: string, apiKey?: string) =>
      [...account(apiKey).lists.values()]
        .filter((l) => name === undefined || l.name === name)
        .map(({ id, name }) => ({ id, name })),
    listMembers(name: string, apiKey?: string) {
      const list = firstList(name, apiKey);
      const profiles = account(apiKey).profiles;
      return [...(list?.members ?? [])].map((id) => profiles.get(id)?.email ?? id).sort();
    },
    deletionJobs: (apiKey?: string) => account(apiKey).deletionJobs.map((j) => ({ ...j })),
    bulkImportJobs: (apiKey?: string) => [...account(apiKey).bulkImportJobs.values()].map((j) => structuredClone(j)),
    setBulkImportDelay(ms: number) {
      bulkImport.delayMs = ms;
    },
    runBulkImportJobs(apiKey?: string) {
      const queued = [...account(apiKey).bulkImportJobs.values()].filter((job) => job.status === "queued");
      for (const job of queued) processBulkImport(account(apiKey), job, nextId);
      return queued.length;
    },
    setRateLimiting(enabled: boolean) {
      for (const { burst, steady } of Object.values(limits)) {
        burst.enabled = enabled;
        steady.enabled = enabled;
      }
    },
    async emitWebhook(url: string, events: KlaviyoWebhookEvent[], secret: string, options?: KlaviyoWebhookOptions) {
      const { headers, body } = await klaviyoWebhook(events, secret, options);
      return fetch(url, { method: "POST", headers, body });
    },
  });
}

/**
 * A system webhook request as Klaviyo sends it: `Klaviyo-Signature` = hex HMAC-SHA256(secret, body + timestamp),
 * `Klaviyo-Timestamp` an HTTP-date, `Klaviyo-Webhook-Id` repeated in `meta`. Each payload is a Get Event document
 * with the profile included ([M]: the shape of `included` is modelled on Get Event with `include=profile`).
 */
export async function klaviyoWebhook(
  events: KlaviyoWebhookEvent[],
  secret: string,
  options: KlaviyoWebhookOptions = {},
): Promise<{ headers: Record<string, string>; body: string }> {
  const at = options.at ?? new Date();
  const webhookId = options.webhookId ?? "01JWEBHOOK0000000000000001";
  const body = JSON.stringify({
    data: events.map((e, i) => {
      const id = e.id ?? `evt${at.getTime().toString(36)}${i}`;
      const datetime = e.datetime ?? at.toISOString();
      return {
        external_id: id,
        topic: e.topic.includes(":") ? e.topic : `event:klaviyo.${e.topic}`,
        payload: {
          data: {
            type: "event",
            id,
            attributes: {
              timestamp: Math.floor(Date.parse(datetime) / 1000),
              datetime,
              uuid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
              event_properties: e.properties ?? {},
            },
            relationships: {
              profile: { data: e.profileId ? { type: "profile", id: e.profileId } : null },
              metric: { data: { type: "metric", id: `metric_${e.topic}` } },
            },
          },
          included: e.profileId
            ? [{ type: "profile", id: e.profileId, attributes: e.email ? { email: e.email } : {} }]
            : [],
        },
      };
    }),
    meta: {
      klaviyo_account_id: options.accountId ?? "AbC123",
      klaviyo_webhook_id: webhookId,
      timestamp: at.toISOString(),
    },
  });
  const timestamp = at.toUTCString();
  const signature = toHex(await hmacSha256(secret, concatBytes(body, timestamp)));
  return {
    headers: {
      "content-type": "application/json",
      "Klaviyo-Webhook-Id": webhookId,
      "Klaviyo-Timestamp": timestamp,
      "Klaviyo-Signature": signature,
    },
    body,
  };
}

interface State {
  accounts: Map<string, Account>;
  limits: Record<Endpoint, { burst: SlidingWindowLimiter; steady: SlidingWindowLimiter }>;
  nextId: () => number;
  bulkImport: { delayMs: number };
}

function defineRoutes(app: Hono, state: State): void {
  const { accounts, limits, nextId } = state;
  const accountOf = (c: Context) => accounts.get(apiKeyOf(c) as string) as Account;

  app.onError((err, c) => {
    if (err instanceof Rejection) return errorResponse(c, err.status, err.errors);
    throw err;
  });

  // Authentication, then the revision, then the media type: each refused as Klaviyo does, in a JSON:API envelope.
  app.use("/api/*", async (c, next) => {
    const key = apiKeyOf(c);
    if (!key || !accounts.has(key))
      throw new Rejection(401, [
        {
          code: "not_authenticated",
          title: "Authentication credentials were not provided.",
          detail: "Missing or invalid private key.",
          source: { pointer: "/data/" },
        },
      ]);
    const revision = c.req.header("revision");
    // [M] Klaviyo requires the header; the exact wording of its refusal is not documented.
    if (!revision) throw new Rejection(400, [invalid("The `revision` header is required.", { parameter: "revision" })]);
    if (!REVISION.test(revision))
      throw new Rejection(400, [invalid(`\`${revision}\` is not a valid revision.`, { parameter: "revision" })]);
    const type = c.req.header("content-type")?.split(";")[0].trim();
    const hasBody = Number(c.req.header("content-length") ?? 0) > 0 || c.req.header("transfer-encoding") !== undefined;
    if (hasBody && !MEDIA_TYPES.includes(type ?? ""))
      throw new Rejection(415, [
        {
          code: "unsupported_media_type",
          title: "Unsupported media type.",
          detail: `Unsupported media type "${type}".`,
        },
      ]);
    await next();
  });

  /** Klaviyo's two windows per account and endpoint: 429 with `Retry-After` past either, `RateLimit-*` otherwise. */
  const limited =
    (endpoint: Endpoint): MiddlewareHandler =>
    async (c, next) => {
      const key = apiKeyOf(c) as string;
      const windows = [limits[endpoint].burst, limits[endpoint].steady];
      const taken = [];
      for (const window of windows) {
        const result = window.take(key);
        taken.push({ ...result, limit: window.limit });
        if (!result.allowed) {
          const wait = Math.max(1, Math.ceil(result.resetMs / 1000));
          const unit = wait === 1 ? "second" : "seconds";
          c.header("Retry-After", String(wait));
          throw new Rejection(429, [
            {
              code: "throttled",
              title: "Request was throttled.",
              detail: `Request was throttled. Expected available in ${wait} ${unit}.`,
            },
          ]);
        }
      }
      await next();
      const tightest = taken.reduce((a, b) => (b.remaining < a.remaining ? b : a));
      c.res.headers.set("RateLimit-Limit", String(tightest.limit));
      c.res.headers.set("RateLimit-Remaining", String(tightest.remaining));
      c.res.headers.set("RateLimit-Reset", String(Math.ceil(tightest.resetMs / 1000)));
    };

  // K1: create, or update the one profile the id and identifiers point at (its identifiers included); two
  // profiles behind them is a conflict.
  app.post("/api/profile-import", limited("profile-import"), async (c) => {
    const { profiles } = accountOf(c);
    const data = resourceOf(await bodyOf(c), "profile");
    const attributes = profileAttributes(data.attributes, data.id === undefined);
    if (data.id !== undefined && !profiles.has(data.id)) throw notFound("profile", data.id);
    const matches = matchesOf(profiles, attributes, data.id);
    const owners = [...new Set(matches.map((m) => m.profile))];
    if (owners.length > 1) {
      // [M] The profile the upsert would update (first identifier in precedence) is named; the pointer names the
      // identifier another profile holds.
      const other = matches.find((m) => m.profile !== matches[0].profile) as Match;
      throw duplicate(matches[0].profile.id, `/data/attributes/${other.field}`);
    }
    const existing = owners[0];
    const profile = existing ?? { id: profileId(nextId()), location: {}, properties: {} };
    apply(profile, attributes);
    profiles.set(profile.id, profile);
    return document(c, profileResource(c, profile), existing ? 200 : 201);
  });

  // K2: create only.
  app.post("/api/profiles", limited("profiles"), async (c) => {
    const { profiles } = accountOf(c);
    const attributes = profileAttributes(resourceOf(await bodyOf(c), "profile").attributes, true);
    const [match] = matchesOf(profiles, attributes);
    if (match) throw duplicate(match.profile.id, "/data/attributes");
    const profile: MockProfile = { id: profileId(nextId()), location: {}, properties: {} };
    apply(profile, attributes);
    profiles.set(profile.id, profile);
    return document(c, profileResource(c, profile), 201);
  });

  // K3: update one profile; an identifier another profile holds is a conflict.
  app.patch("/api/profiles/:id", limited("profiles"), async (c) => {
    const { profiles } = accountOf(c);
    const id = c.req.param("id");
    const data = resourceOf(await bodyOf(c), "profile");
    const profile = profiles.get(id);
    if (!profile) throw notFound("profile", id);
    if (data.id !== id)
      throw new Rejection(409, [
        {
          code: "conflict",
          title: "Conflict.",
          detail: "The id in the body does not match the URL.",
          source: { pointer: "/data/id" },
        },
      ]);
    const attributes = profileAttributes(data.attributes, false);
    const other = matchesOf(profiles, attributes).find((m) => m.profile !== profile);
    if (other) throw duplicate(other.profile.id, `/data/attributes/${other.field}`);
    apply(profile, attributes);
    return document(c, profileResource(c, profile), 200);
  });

  // K4: by `equals`/`any` on an identifier or the id; pages of 1–100 (default 20).
  app.get("/api/profiles", limited("profiles"), (c) => {
    const filter = filterOf(c, ["email", "phone_number", "external_id", "id"]);
    const all = [...accountOf(c).profiles.values()];
    const matching = filter
      ? all.filter((p) => filter.values.some((v) => sameValue(filter.field, p[filter.field], v)))
      : all;
    return page(c, matching, 20, 100, (p) => profileResource(c, p, c.req.query("fields[profile]")));
  });

  app.get("/api/profiles/:id", limited("profiles"), (c) => {
    const profile = accountOf(c).profiles.get(c.req.param("id"));
    if (!profile) throw notFound("profile", c.req.param("id"));
    return document(c, profileResource(c, profile), 200);
  });

  // Lists: names are not unique at Klaviyo, so a list is found by filtering on its name.
  app.get("/api/lists", limited("lists"), (c) => {
    const filter = filterOf(c, ["name", "id"]);
    const all = [...accountOf(c).lists.values()];
    const matching = filter ? all.filter((l) => filter.values.includes(l[filter.field as "name" | "id"])) : all;
    return page(c, matching, 10, 10, (l) => listResource(c, l));
  });

  app.post("/api/lists", limited("list-create"), async (c) => {
    const data = resourceOf(await bodyOf(c), "list");
    const name = data.attributes.name;
    if (typeof name !== "string" || name.trim() === "")
      throw new Rejection(400, [invalid("A list name is required.", { pointer: "/data/attributes/name" })]);
    const id = listId(nextId());
    const list: MockList = { id, name, created: new Date().toISOString(), members: new Set() };
    accountOf(c).lists.set(id, list);
    return document(c, listResource(c, list), 201);
  });

  app.get("/api/lists/:id", limited("lists"), (c) => {
    const list = accountOf(c).lists.get(c.req.param("id"));
    if (!list) throw notFound("list", c.req.param("id"));
    return document(c, listResource(c, list), 200);
  });

  app.delete("/api/lists/:id", limited("lists"), (c) => {
    if (!accountOf(c).lists.delete(c.req.param("id"))) throw notFound("list", c.req.param("id"));
    return c.body(null, 204);
  });

  // K9/K10: idempotent; one bad entry rejects the whole call, with an error pointing at each bad entry ([M]).
  const relate = (member: boolean) => async (c: Context) => {
    const { lists, profiles } = accountOf(c);
    const id = c.req.param("id") as string;
    const list = lists.get(id);
    if (!list) throw notFound("list", id);
    const { data } = (await bodyOf(c)) as { data?: unknown };
    if (!Array.isArray(data) || data.length === 0 || data.length > 1000)
      throw new Rejection(400, [invalid("`data` must hold 1 to 1,000 profiles.", { pointer: "/data" })]);
    const errors: ApiError[] = [];
    data.forEach((entry: { type?: unknown; id?: unknown }, i) => {
      if (entry?.type !== "profile")
        errors.push(invalid("Expected a resource of type `profile`.", { pointer: `/data/${i}/type` }));
      else if (typeof entry.id !== "string" || !profiles.has(entry.id))
        errors.push(invalid(`Profile \`${String(entry.id)}\` does not exist.`, { pointer: `/data/${i}/id` }));
    });
    if (errors.length) throw new Rejection(400, errors);
    for (const { id } of data as Array<{ id: string }>) {
      if (member) list.members.add(id);
      else list.members.delete(id);
    }
    return c.body(null, 204);
  };
  app.post("/api/lists/:id/relationships/profiles", limited("relationships"), relate(true));
  app.delete("/api/lists/:id/relationships/profiles", limited("relationships"), relate(false));

  // Exactly one identifier; every profile holding it goes, from its lists too. Klaviyo deletes asynchronously;
  // here it is done by the time the 202 is sent.
  app.post("/api/data-privacy-deletion-jobs", limited("deletion"), async (c) => {
    const account = accountOf(c);
    const data = resourceOf(await bodyOf(c), "data-privacy-deletion-job");
    const profile = (data.attributes.profile as { data?: { type?: string; id?: string; attributes?: object } })?.data;
    if (profile?.type !== "profile")
      throw new Rejection(400, [invalid("A profile is required.", { pointer: "/data/attributes/profile/data" })]);
    const given = Object.entries({ id: profile.id, ...(profile.attributes ?? {}) }).filter(
      ([field, value]) => ["id", "email", "phone_number"].includes(field) && typeof value === "string",
    ) as Array<[string, string]>;
    if (given.length !== 1)
      throw new Rejection(400, [
        invalid("Exactly one of `email`, `phone_number` or `id` is required.", {
          pointer: "/data/attributes/profile/data",
        }),
      ]);
    const [[field, value]] = given;
    account.deletionJobs.push({ [field]: value });
    for (const p of [...account.profiles.values()]) {
      if (!sameValue(field, p[field], value)) continue;
      account.profiles.delete(p.id);
      for (const list of account.lists.values()) list.members.delete(p.id);
    }
    return c.body(null, 202);
  });

  defineBulkImportRoutes(app, state, limited, accountOf);

  app.all("/api/*", () => {
    throw new Rejection(404, [
      { code: "not_found", title: "Not found.", detail: "The requested resource does not exist." },
    ]);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Profile bulk import jobs (K5, K6)

/** A profile bulk import job as the mock keeps it: Klaviyo's attributes, its lists, its profiles and their errors. */
export interface MockBulkImportJob {
  id: string;
  status: "queued" | "processing" | "complete" | "cancelled";
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  expires_at: string;
  total_count: number;
  completed_count: number;
  failed_count: number;
  /** The lists its profiles are added to (`relationships.lists`). */
  lists: string[];
  /** Each profile's validated attributes, in the order sent. */
  profiles: Array<Record<string, unknown>>;
  /** What `…/import-errors` lists: the profiles that failed while the job was processed. */
  importErrors: Array<ApiError & { original_payload: Record<string, unknown> }>;
  /** What `…/profiles` lists: the ids of the profiles the job created or updated, in the order processed. */
  imported: string[];
}

const BULK_MAX_PROFILES = 10_000;
const BULK_MAX_BYTES = 5 * 1024 * 1024;
const BULK_MAX_PROFILE_BYTES = 100 * 1024;
const byteLength = (text: string) => new TextEncoder().encode(text).length;

/**
 * K5/K6: a job is validated whole when it arrives — one error per bad profile, each pointing at it
 * (`/data/attributes/profiles/data/<i>/attributes/email`), and nothing is imported — then answered `202` while
 * `queued`; `bulkImport.delayMs` later it upserts each profile as `profile-import` would and adds it to the job's
 * lists. A profile whose identifiers belong to two profiles fails alone, listed under `import-errors`.
 */
function defineBulkImportRoutes(
  app: Hono,
  state: State,
  limited: (endpoint: Endpoint) => MiddlewareHandler,
  accountOf: (c: Context) => Account,
): void {
  app.post("/api/profile-bulk-import-jobs", limited("bulk-import"), async (c) => {
    const account = accountOf(c);
    const raw = await c.req.text();
    // [M] Klaviyo documents the 5 MB limit, not how it refuses a larger body.
    if (byteLength(raw) > BULK_MAX_BYTES)
      throw new Rejection(413, [
        { code: "request_too_large", title: "Request too large.", detail: "A bulk import job is at most 5 MB." },
      ]);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new Rejection(400, [invalid("The request body is not valid JSON.", { pointer: "/" })]);
    }
    const data = resourceOf(body, "profile-bulk-import-job");
    const entries = (data.attributes.profiles as { data?: unknown } | undefined)?.data;
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > BULK_MAX_PROFILES)
      throw new Rejection(400, [
        invalid("`profiles` must hold 1 to 10,000 profiles.", { pointer: "/data/attributes/profiles/data" }),
      ]);
    const errors: ApiError[] = [];
    const profiles = entries.map((entry: unknown, i) => {
      const at = `/data/attributes/profiles/data/${i}`;
      if (byteLength(JSON.stringify(entry)) > BULK_MAX_PROFILE_BYTES) {
        errors.push(invalid("A profile is at most 100 KB.", { pointer: at }));
        return {};
      }
      try {
        return profileAttributes(resourceOf({ data: entry }, "profile").attributes, true);
      } catch (err) {
        if (!(err instanceof Rejection)) throw err;
        // The same checks as profile-import, each pointing into this profile of the job.
        for (const e of err.errors)
          errors.push({ ...e, source: { pointer: `${at}${(e.source?.pointer ?? "/data").slice("/data".length)}` } });
        return {};
      }
    });
    const related = (body as { data: { relationships?: { lists?: { data?: unknown } } } }).data.relationships?.lists
      ?.data;
    const lists: string[] = [];
    if (related !== undefined && !Array.isArray(related))
      errors.push(invalid("`lists` must be an array of lists.", { pointer: "/data/relationships/lists/data" }));
    for (const [i, list] of (Array.isArray(related) ? related : []).entries()) {
      if (list?.type === "list" && typeof list.id === "string") lists.push(list.id);
      else
        errors.push(invalid("Expected a resource of type `list`.", { pointer: `/data/relationships/lists/data/${i}` }));
    }
    if (errors.length) throw new Rejection(400, errors);
    // [M] An unknown list refuses the job, as adding to it through its relationships does.
    for (const id of lists) if (!account.lists.has(id)) throw notFound("list", id);
    const now = Date.now();
    const job: MockBulkImportJob = {
      id: bulkImportJobId(state.nextId()),
      status: "queued",
      created_at: new Date(now).toISOString(),
      started_at: null,
      completed_at: null,
      expires_at: new Date(now + 7 * 86_400_000).toISOString(),
      total_count: profiles.length,
      completed_count: 0,
      failed_count: 0,
      lists,
      profiles,
      importErrors: [],
      imported: [],
    };
    account.bulkImportJobs.set(job.id, job);
    // The job's profiles are written when it runs, not now: a profile-import of one of them meanwhile is overwritten.
    // The timer does not keep the test process alive (a long delay is how a test holds a job queued).
    setTimeout(() => processBulkImport(account, job, state.nextId), state.bulkImport.delayMs).unref?.();
    return c.json({ data: bulkImportJobResource(c, job) }, 202, { "content-type": "application/vnd.api+json" });
  });

  app.get("/api/profile-bulk-import-jobs/:id", limited("bulk-import-read"), (c) => {
    const job = accountOf(c).bulkImportJobs.get(c.req.param("id"));
    if (!job) throw notFound("profile-bulk-import-job", c.req.param("id"));
    return c.json({ data: bulkImportJobResource(c, job) }, 200, { "content-type": "application/vnd.api+json" });
  });

  // [M] One page holds every error (Klaviyo pages them).
  app.get("/api/profile-bulk-import-jobs/:id/import-errors", limited("bulk-import-read"), (c) => {
    const job = accountOf(c).bulkImportJobs.get(c.req.param("id"));
    if (!job) throw notFound("profile-bulk-import-job", c.req.param("id"));
    const data = job.importErrors.map((e, i) => ({ type: "import-error", id: `${job.id}-${i}`, attributes: e }));
    return c.json({ data, links: { self: c.req.url } }, 200, { "content-type": "application/vnd.api+json" });
  });

  // "Get Profiles for Bulk Import Profiles Job": the profiles the job imported, paged as `GET /api/profiles` pages
  // (1–100, default 20, `links.next`), `fields[profile]` honoured. [M] Empty until the job ran; a profile deleted
  // since is left out.
  app.get("/api/profile-bulk-import-jobs/:id/profiles", limited("bulk-import-read"), (c) => {
    const account = accountOf(c);
    const job = account.bulkImportJobs.get(c.req.param("id"));
    if (!job) throw notFound("profile-bulk-import-job", c.req.param("id"));
    const profiles = [...new Set(job.imported)].flatMap((id) => account.profiles.get(id) ?? []);
    return page(c, profiles, 20, 100, (p) => profileResource(c, p, c.req.query("fields[profile]")));
  });
}

/** Upserts each profile of the job and lists it; a profile whose identifiers two profiles hold fails alone. */
function processBulkImport(account: Account, job: MockBulkImportJob, nextId: () => number): void {
  if (job.status !== "queued") return;
  job.status = "processing";
  job.started_at = new Date().toISOString();
  for (const [i, attributes] of job.profiles.entries()) {
    const owners = [...new Set(matchesOf(account.profiles, attributes).map((m) => m.profile))];
    if (owners.length > 1) {
      job.failed_count++;
      job.importErrors.push({
        code: "duplicate_profile",
        title: "Conflict.",
        detail: "A profile already exists with one of these identifiers.",
        source: { pointer: `/data/attributes/profiles/data/${i}/attributes` },
        original_payload: attributes,
      });
      continue;
    }
    const profile = owners[0] ?? { id: profileId(nextId()), location: {}, properties: {} };
    apply(profile, attributes);
    account.profiles.set(profile.id, profile);
    for (const id of job.lists) account.lists.get(id)?.members.add(profile.id);
    job.imported.push(profile.id);
    job.completed_count++;
  }
  job.status = "complete";
  job.completed_at = new Date().toISOString();
}

function bulkImportJobResource(c: Context, job: MockBulkImportJob): unknown {
  const { id, lists, profiles: _profiles, importErrors: _errors, imported: _imported, ...attributes } = job;
  return {
    type: "profile-bulk-import-job",
    id,
    attributes,
    relationships: { lists: { data: lists.map((list) => ({ type: "list", id: list })) } },
    links: { self: `${origin(c)}/api/profile-bulk-import-jobs/${id}/` },
  };
}

/** [M] Klaviyo's job ids are opaque strings. */
function bulkImportJobId(n: number): string {
  return `IMPJOB${n.toString(36).toUpperCase().padStart(10, "0")}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Profiles

interface Match {
  profile: MockProfile;
  field: string;
}

/** The profiles the request's id and identifiers point at, in Klaviyo's precedence: id, email, phone, external id. */
function matchesOf(profiles: Map<string, MockProfile>, attributes: Record<string, unknown>, id?: string): Match[] {
  const matches: Match[] = [];
  const byId = id === undefined ? undefined : profiles.get(id);
  if (byId) matches.push({ profile: byId, field: "id" });
  for (const field of IDENTIFIERS) {
    const value = attributes[field];
    if (typeof value !== "string") continue;
    const owner = [...profiles.values()].find((p) => sameValue(field, p[field], value));
    if (owner) matches.push({ profile: owner, field });
  }
  return matches;
}

/** Emails compare without case, as Klaviyo stores them lowercased. */
function sameValue(field: string, stored: unknown, given: string): boolean {
  return field === "email"
    ? typeof stored === "string" && stored.toLowerCase() === given.toLowerCase()
    : stored === given;
}

/** Validates a profile's attributes as Klaviyo does: known fields only, a valid email and an E.164 phone. */
function profileAttributes(attributes: Record<string, unknown>, needsIdentifier: boolean): Record<string, unknown> {
  const errors: ApiError[] = [];
  for (const field of Object.keys(attributes))
    if (!ATTRIBUTES.has(field))
      errors.push(
        invalid(`'${field}' is not a valid field for the resource 'profile'.`, {
          pointer: `/data/attributes/${field}`,
        }),
      );
  const { email, phone_number: phone, location, properties } = attributes;
  if (email !== undefined && email !== null && (typeof email !== "string" || !EMAIL.test(email)))
    errors.push(invalid("Invalid email address", { pointer: "/data/attributes/email" }));
  if (phone !== undefined && phone !== null && (typeof phone !== "string" || !E164.test(phone)))
    errors.push(
      invalid("Invalid phone number format (Example of a valid format: +12345678901)", {
        pointer: "/data/attributes/phone_number",
      }),
    );
  if (location !== undefined && location !== null) {
    if (typeof location !== "object" || Array.isArray(location))
      errors.push(invalid("`location` must be an object.", { pointer: "/data/attributes/location" }));
    else
      for (const field of Object.keys(location))
        if (!LOCATION_FIELDS.has(field))
          errors.push(
            invalid(`'${field}' is not a valid location field.`, { pointer: `/data/attributes/location/${field}` }),
          );
  }
  if (properties !== undefined && (typeof properties !== "object" || properties === null || Array.isArray(properties)))
    errors.push(invalid("`properties` must be an object.", { pointer: "/data/attributes/properties" }));
  if (needsIdentifier && !IDENTIFIERS.some((f) => typeof attributes[f] === "string"))
    errors.push(
      invalid("One of `email`, `phone_number` or `external_id` is required.", { pointer: "/data/attributes" }),
    );
  if (errors.length) throw new Rejection(400, errors);
  return attributes;
}

/** Given fields replace, `null` clears, absent ones stay; `location` and `properties` merge key by key. */
function apply(profile: MockProfile, attributes: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(attributes)) {
    if (field === "location" || field === "properties") {
      const target = profile[field];
      for (const [k, v] of Object.entries((value ?? {}) as Record<string, unknown>)) {
        if (v === null) delete target[k];
        else target[k] = v;
      }
    } else if (value === null) delete profile[field];
    else profile[field] = field === "email" ? (value as string).toLowerCase() : value;
  }
  const now = new Date().toISOString();
  profile.created ??= now;
  profile.updated = now;
}

function duplicate(id: string, pointer: string): Rejection {
  return new Rejection(409, [
    {
      code: "duplicate_profile",
      title: "Conflict.",
      detail: "A profile already exists with one of these identifiers.",
      source: { pointer },
      meta: { duplicate_profile_id: id },
    },
  ]);
}

/** ULID-like and deterministic: `01J` and 23 base-36 digits. */
function profileId(n: number): string {
  return `01J${n.toString(36).toUpperCase().padStart(23, "0")}`;
}

/** Six characters, like Klaviyo's list ids (`Xy12Ab`). */
function listId(n: number): string {
  return `L${n.toString(36).padStart(5, "0")}`;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON:API

function apiKeyOf(c: Context): string | undefined {
  return c.req.header("authorization")?.match(/^Klaviyo-API-Key (\S+)$/)?.[1];
}

async function bodyOf(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new Rejection(400, [invalid("The request body is not valid JSON.", { pointer: "/" })]);
  }
}

/** The `data` resource of a request body, of the expected type, with its attributes. */
function resourceOf(body: unknown, type: string): { id?: string; attributes: Record<string, unknown> } {
  const data = (body as { data?: { type?: unknown; id?: unknown; attributes?: unknown } })?.data;
  if (typeof data !== "object" || data === null)
    throw new Rejection(400, [invalid("`data` is required.", { pointer: "/data" })]);
  if (data.type !== type) throw new Rejection(400, [invalid(`Expected type \`${type}\`.`, { pointer: "/data/type" })]);
  const attributes = data.attributes ?? {};
  if (typeof attributes !== "object" || Array.isArray(attributes))
    throw new Rejection(400, [invalid("`attributes` must be an object.", { pointer: "/data/attributes" })]);
  return { id: typeof data.id === "string" ? data.id : undefined, attributes: attributes as Record<string, unknown> };
}

/**
 * `equals(field,"value")` or `any(field,["a","b"])` (at most 100 values) on one of `fields`; undefined without a
 * filter. Anything else is refused like Klaviyo refuses it, pointing at the `filter` parameter.
 */
function filterOf(c: Context, fields: string[]): { field: string; values: string[] } | undefined {
  const raw = c.req.query("filter");
  if (raw === undefined) return undefined;
  const refuse = (detail: string) => new Rejection(400, [invalid(detail, { parameter: "filter" })]);
  const m = raw.match(/^(equals|any)\((\w+),(.*)\)$/s);
  if (!m || !fields.includes(m[2])) throw refuse(`Invalid filter: ${raw}`);
  let value: unknown;
  try {
    value = JSON.parse(m[3]);
  } catch {
    throw refuse(`Invalid filter value: ${m[3]}`);
  }
  const values = m[1] === "equals" ? [value] : value;
  if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== "string"))
    throw refuse(`Invalid filter value: ${m[3]}`);
  if (values.length > 100) throw refuse("`any` takes at most 100 values.");
  return { field: m[2], values };
}

/** A page of `items` by `page[size]` (1..max) and an offset cursor, with `links.next` when more follow. */
function page<T>(c: Context, items: T[], size: number, max: number, render: (item: T) => unknown): Response {
  const asked = c.req.query("page[size]");
  const pageSize = asked === undefined ? size : Number(asked);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > max)
    throw new Rejection(400, [invalid(`page[size] must be between 1 and ${max}.`, { parameter: "page[size]" })]);
  const offset = Number(c.req.query("page[cursor]") ?? 0);
  const next = new URL(c.req.url);
  next.searchParams.set("page[cursor]", String(offset + pageSize));
  const links: Record<string, string> = { self: c.req.url };
  if (offset + pageSize < items.length) links.next = next.toString();
  return c.json({ data: items.slice(offset, offset + pageSize).map(render), links }, 200, {
    "content-type": "application/vnd.api+json",
  });
}

function profileResource(c: Context, p: MockProfile, fields?: string): unknown {
  const { id, ...attributes } = p;
  const wanted = fields?.split(",");
  const shown = wanted
    ? Object.fromEntries(Object.entries(attributes).filter(([k]) => wanted.includes(k)))
    : attributes;
  return { type: "profile", id, attributes: shown, links: { self: `${origin(c)}/api/profiles/${id}/` } };
}

function listResource(c: Context, l: MockList): unknown {
  return {
    type: "list",
    id: l.id,
    attributes: { name: l.name, created: l.created, updated: l.created, opt_in_process: "single_opt_in" },
    links: { self: `${origin(c)}/api/lists/${l.id}/` },
  };
}

function origin(c: Context): string {
  return new URL(c.req.url).origin;
}

function document(c: Context, data: unknown, status: 200 | 201): Response {
  return c.json({ data }, status, { "content-type": "application/vnd.api+json" });
}

function notFound(type: string, id: string): Rejection {
  return new Rejection(404, [
    { code: "not_found", title: "Not found.", detail: `A ${type} with id ${id} does not exist.` },
  ]);
}

function errorResponse(c: Context, status: number, errors: ApiError[]): Response {
  const body = { errors: errors.map((e) => ({ id: crypto.randomUUID(), status, ...e })) };
  return c.json(body, status as 400, { "content-type": "application/vnd.api+json" });
}
