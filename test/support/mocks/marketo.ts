/**
 * A mock Marketo instance (reference/maps.md §2.4) on the shared mock frame: client-credentials tokens that expire,
 * Marketo's HTTP-200 error envelope, leads (`createOrUpdate` with per-record `skipped` reasons, lookup by email),
 * static lists in folders, list membership, lead deletes, activities with paging tokens, and the limits — 100 calls
 * per 20 s (606), 10 in flight (615), a daily quota (607) — all answered the way Marketo answers them.
 *
 * Codes and messages marked [M] in maps.md are best guesses; the codes are the documented ones.
 *
 * @example
 * const mock = await startMockMarketo({ rateLimit: { limit: 3, windowMs: 60_000 } });
 * const config = { base_url: mock.url, client_id: mock.clientId, client_secret: mock.clientSecret, folder_id: mock.folderId };
 * mock.listMembers("tessera_vip") // leads on the list
 */
import type { Context, Hono } from "hono";
import { type MockServerOptions, type MockVendor, SlidingWindowLimiter, startMockVendor } from "./mock-vendor";

export interface MockMarketoOptions extends MockServerOptions {
  clientId?: string;
  clientSecret?: string;
  /** Lifetime of a new token (Marketo: 3599). */
  tokenTtlSeconds?: number;
  /** Calls per window before 606 (Marketo: 100 per 20 s). */
  rateLimit?: { limit: number; windowMs: number };
  /** Calls in flight before 615 (Marketo: 10). */
  concurrency?: number;
  /** Calls per day before 607 (Marketo: typically 50,000). */
  dailyQuota?: number;
  /** Folders lists may be created in (default one folder, id 13). */
  folders?: Array<{ id: number; name: string }>;
  /** Custom lead fields besides the standard ones (an unknown field is skipped with 1006). */
  customFields?: string[];
  /** Activities per page (Marketo: 300). */
  activityPageSize?: number;
  /** The mock's clock, for token expiry and the rate window. */
  now?: () => number;
}

export interface MockLead {
  id: number;
  email?: string;
  createdAt: string;
  updatedAt: string;
  [field: string]: unknown;
}

export interface MockStaticList {
  id: number;
  name: string;
  description?: string;
  folderId: number;
  createdAt: string;
  updatedAt: string;
  members: Set<number>;
}

export interface MockActivity {
  id: number;
  marketoGUID: string;
  leadId: number;
  activityDate: string;
  activityTypeId: number;
  primaryAttributeValueId?: number;
  primaryAttributeValue?: string;
  attributes: Array<{ name: string; value: unknown }>;
}

/** An activity to seed; `activityDate` defaults to the mock's now. Seed in date order, as Marketo records them. */
export interface ActivitySeed {
  leadId: number;
  activityTypeId: number;
  activityDate?: string;
  primaryAttributeValueId?: number;
  primaryAttributeValue?: string;
  attributes?: Record<string, unknown>;
}

export interface MockMarketo extends MockVendor {
  readonly clientId: string;
  readonly clientSecret: string;
  /** The default folder's id, for `folder_id`. */
  readonly folderId: number;
  /** The 100-calls-per-20-s emulator (`enabled = false` to switch it off). */
  readonly limiter: SlidingWindowLimiter;
  /** How many REST calls are being answered right now. */
  inFlight(): number;
  leads(): MockLead[];
  /** Seeds a lead directly (duplicates by email allowed, as in Marketo). */
  addLead(fields: Record<string, unknown>): MockLead;
  lists(): MockStaticList[];
  /** The leads on the static list `name` (none when there is no such list). */
  listMembers(name: string): MockLead[];
  addActivities(...seeds: ActivitySeed[]): MockActivity[];
  /** Every issued token is now expired: the next REST call gets 602. */
  expireTokens(): void;
  /** Every issued token is forgotten: the next REST call gets 601. */
  revokeTokens(): void;
  /** Uses up today's quota: every REST call gets 607 until `reset()`. */
  exhaustDailyQuota(): void;
  /** Holds REST calls (counted in flight) until the returned function is called. */
  hold(): () => void;
}

const STANDARD_FIELDS = [
  "email",
  "firstName",
  "lastName",
  "middleName",
  "phone",
  "mobilePhone",
  "company",
  "title",
  "address",
  "city",
  "state",
  "postalCode",
  "country",
  "website",
  "leadSource",
  "unsubscribed",
];
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const MAX_BATCH = 300;
const MAX_URI = 8 * 1024;
const NOT_FOUND_WARNING = "No assets found for the given search criteria.";

type Reason = { code: string; message: string };
type RecordResult = { id?: number; status: string; reasons?: Reason[] };

/** Starts the mock on a free port. */
export async function startMockMarketo(options: MockMarketoOptions = {}): Promise<MockMarketo> {
  const clientId = options.clientId ?? "tessera-client";
  const clientSecret = options.clientSecret ?? "tessera-secret";
  const tokenTtlMs = (options.tokenTtlSeconds ?? 3599) * 1000;
  const concurrency = options.concurrency ?? 10;
  const dailyQuota = options.dailyQuota ?? 50_000;
  const folders = options.folders ?? [{ id: 13, name: "Tessera" }];
  const knownFields = new Set([...STANDARD_FIELDS, ...(options.customFields ?? [])]);
  const pageSize = options.activityPageSize ?? 300;
  const now = options.now ?? Date.now;
  const limiter = new SlidingWindowLimiter(options.rateLimit?.limit ?? 100, options.rateLimit?.windowMs ?? 20_000);

  const state = {
    tokens: new Map<string, number>(),
    current: undefined as string | undefined,
    leads: new Map<number, MockLead>(),
    lists: new Map<number, MockStaticList>(),
    activities: [] as MockActivity[],
    ids: { token: 0, lead: 0, list: 1000, activity: 5000, request: 0 },
    callsToday: 0,
    inFlight: 0,
    gate: undefined as Promise<void> | undefined,
    release: () => {},
  };
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  const requestId = () => `${(++state.ids.request).toString(16)}#mock`;
  const ok = (c: Context, extra: Record<string, unknown> = {}) =>
    c.json({ requestId: requestId(), success: true, ...extra });
  const fail = (c: Context, code: string, message: string) =>
    c.json({ requestId: requestId(), success: false, errors: [{ code, message }] });
  const skipped = (code: string, message: string): RecordResult => ({
    status: "skipped",
    reasons: [{ code, message }],
  });

  function reset() {
    state.tokens.clear();
    state.current = undefined;
    state.leads.clear();
    state.lists.clear();
    state.activities.length = 0;
    state.ids = { token: 0, lead: 0, list: 1000, activity: 5000, request: 0 };
    state.callsToday = 0;
    state.release();
    limiter.reset();
  }

  function createLead(fields: Record<string, unknown>): MockLead {
    const at = iso(now());
    const lead: MockLead = { ...fields, id: ++state.ids.lead, createdAt: at, updatedAt: at };
    state.leads.set(lead.id, lead);
    return lead;
  }

  function leadsByEmail(email: string): MockLead[] {
    return [...state.leads.values()].filter((l) => l.email?.toLowerCase() === email.toLowerCase());
  }

  /** One record of `POST /rest/v1/leads.json`, by email (the only `lookupField` the mock knows). */
  function syncLead(action: string, record: Record<string, unknown>): RecordResult {
    const unknown = Object.keys(record).find((f) => !knownFields.has(f));
    if (unknown) return skipped("1006", `Field '${unknown}' not found`);
    const email = record.email;
    if (typeof email !== "string" || !email) return skipped("1003", "Value for lookup field 'email' not found");
    if (!EMAIL.test(email)) return skipped("1003", "Invalid email address");
    if (action === "createDuplicate") return { id: createLead(record).id, status: "created" };
    const matches = leadsByEmail(email);
    if (matches.length > 1) return skipped("1007", "Multiple lead match lookup criteria");
    const [lead] = matches;
    if (lead) {
      if (action === "createOnly") return skipped("1005", "Lead already exists");
      Object.assign(lead, record, { updatedAt: iso(now()) });
      return { id: lead.id, status: "updated" };
    }
    if (action === "updateOnly") return skipped("1004", "Lead not found");
    return { id: createLead(record).id, status: "created" };
  }

  function queryLeads(c: Context, params: URLSearchParams) {
    const filterType = params.get("filterType");
    const values = (params.get("filterValues") ?? "").split(",").filter(Boolean);
    if (!filterType) return fail(c, "701", "filterType cannot be blank");
    if (!values.length) return fail(c, "701", "filterValues cannot be blank");
    if (values.length > MAX_BATCH) return fail(c, "1003", `Too many filterValues, max is ${MAX_BATCH}`);
    const fields = params.get("fields")?.split(",") ?? [
      "id",
      "email",
      "firstName",
      "lastName",
      "updatedAt",
      "createdAt",
    ];
    let found: MockLead[];
    if (filterType === "email") found = values.flatMap(leadsByEmail);
    else if (filterType === "id") found = values.flatMap((v) => state.leads.get(Number(v)) ?? []);
    else return fail(c, "1011", `Field '${filterType}' not supported`);
    return ok(c, { result: found.map((lead) => Object.fromEntries(fields.map((f) => [f, lead[f] ?? null]))) });
  }

  function listView(list: MockStaticList) {
    const { members: _members, folderId, ...rest } = list;
    return { ...rest, folder: { id: folderId, type: "Folder" }, computedUrl: `https://app.mock/#ST${list.id}A1` };
  }

  function pagingToken(afterId: number) {
    return Buffer.from(`after:${afterId}`).toString("base64");
  }

  function readPagingToken(token: string): number | undefined {
    const match = /^after:(\d+)$/.exec(Buffer.from(token, "base64").toString());
    return match ? Number(match[1]) : undefined;
  }

  function define(app: Hono) {
    app.on(["GET", "POST"], "/identity/oauth/token", async (c) => {
      const form = c.req.method === "POST" ? Object.fromEntries(new URLSearchParams(await c.req.text())) : {};
      const params = { ...c.req.query(), ...form };
      if (params.grant_type !== "client_credentials") {
        return c.json({ error: "unsupported_grant_type", error_description: "Unsupported grant type" }, 400);
      }
      if (params.client_id !== clientId || params.client_secret !== clientSecret) {
        return c.json({ error: "unauthorized", error_description: "Bad client credentials" }, 401);
      }
      // Marketo hands back the live token, with what is left of its life, until it expires.
      const expiresAt = state.current ? state.tokens.get(state.current) : undefined;
      if (!state.current || expiresAt === undefined || expiresAt <= now()) {
        state.current = `${(++state.ids.token).toString().padStart(8, "0")}-mock-token:ab`;
        state.tokens.set(state.current, now() + tokenTtlMs);
      }
      const left = (state.tokens.get(state.current) ?? 0) - now();
      return c.json({
        access_token: state.current,
        token_type: "bearer",
        expires_in: Math.max(0, Math.floor(left / 1000)),
        scope: "tessera@mock.test",
      });
    });

    // Every REST call: URI size, token, then the limits. Calls refused for the token count toward no limit.
    app.use("/rest/*", async (c, next) => {
      const url = new URL(c.req.url);
      if (url.pathname.length + url.search.length > MAX_URI) return c.text("Request-URI Too Long", 414);
      // The deprecated `access_token` query parameter is refused, so a plugin must use the header.
      if (c.req.query("access_token") !== undefined) return fail(c, "601", "Access token invalid");
      const bearer = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
      if (!bearer) return fail(c, "600", "Access token not specified");
      const expiresAt = state.tokens.get(bearer);
      if (expiresAt === undefined) return fail(c, "601", "Access token invalid");
      if (expiresAt <= now()) return fail(c, "602", "Access token expired");
      if (state.callsToday >= dailyQuota) return fail(c, "607", "Daily quota reached");
      state.callsToday++;
      if (state.inFlight >= concurrency) return fail(c, "615", "Concurrent access limit reached");
      if (!limiter.take("munchkin", now()).allowed) {
        return fail(c, "606", `Max rate limit '${limiter.limit}' exceeded with in '${limiter.windowMs / 1000}' secs`);
      }
      state.inFlight++;
      try {
        await state.gate;
        await next();
      } finally {
        state.inFlight--;
      }
    });

    app.post("/rest/v1/leads.json", async (c) => {
      // Long lookups come as a POST with `_method=GET` and the query in a form body.
      if (c.req.query("_method") === "GET") return queryLeads(c, new URLSearchParams(await c.req.text()));
      if (!c.req.header("content-type")?.includes("application/json")) return fail(c, "612", "Invalid Content Type");
      const body = await jsonBody(c);
      if (!body) return fail(c, "609", "Invalid JSON");
      const { action = "createOrUpdate", lookupField = "email", input } = body as Record<string, unknown>;
      if (!Array.isArray(input) || !input.length) return fail(c, "701", "input cannot be blank");
      if (input.length > MAX_BATCH) return fail(c, "1003", `Batch size cannot exceed ${MAX_BATCH}`);
      if (lookupField !== "email") return fail(c, "1011", `Field '${lookupField}' not supported`);
      return ok(c, { result: input.map((record) => syncLead(String(action), record)) });
    });

    app.get("/rest/v1/leads.json", (c) => queryLeads(c, new URL(c.req.url).searchParams));

    app.post("/rest/v1/leads/delete.json", async (c) => {
      const ids = idsOf(await jsonBody(c));
      if (!ids.length) return fail(c, "701", "input cannot be blank");
      const result = ids.map((id): RecordResult => {
        if (!state.leads.delete(id)) return { id, ...skipped("1004", "Lead not found") };
        for (const list of state.lists.values()) list.members.delete(id);
        return { id, status: "deleted" };
      });
      return ok(c, { result });
    });

    app.post("/rest/v1/lists/:listId/leads.json", async (c) => {
      const list = state.lists.get(Number(c.req.param("listId")));
      if (!list) return fail(c, "1013", "Static list not found");
      const ids = idsOf(await jsonBody(c));
      if (!ids.length) return fail(c, "701", "input cannot be blank");
      if (ids.length > MAX_BATCH) return fail(c, "1003", `Batch size cannot exceed ${MAX_BATCH}`);
      const result = ids.map((id): RecordResult => {
        if (!state.leads.has(id)) return { id, ...skipped("1004", "Lead not found") };
        list.members.add(id);
        return { id, status: "added" };
      });
      return ok(c, { result });
    });

    app.delete("/rest/v1/lists/:listId/leads.json", async (c) => {
      const list = state.lists.get(Number(c.req.param("listId")));
      if (!list) return fail(c, "1013", "Static list not found");
      const fromQuery = (c.req.queries("id") ?? []).map(Number);
      const ids = fromQuery.length ? fromQuery : idsOf(await jsonBody(c));
      if (!ids.length) return fail(c, "701", "input cannot be blank");
      if (ids.length > MAX_BATCH) return fail(c, "1003", `Batch size cannot exceed ${MAX_BATCH}`);
      const result = ids.map((id): RecordResult => {
        if (!state.leads.has(id)) return { id, ...skipped("1004", "Lead not found") };
        if (!list.members.delete(id)) return { id, ...skipped("1015", "Lead not in list") };
        return { id, status: "removed" };
      });
      return ok(c, { result });
    });

    // `byName.json` and `{id}.json` share the segment, as in Marketo's Asset API.
    app.get("/rest/asset/v1/staticList/:file", (c) => {
      const file = c.req.param("file");
      const byId = /^(\d+)\.json$/.exec(file);
      const list =
        file === "byName.json"
          ? [...state.lists.values()].find((l) => l.name === c.req.query("name"))
          : byId
            ? state.lists.get(Number(byId[1]))
            : undefined;
      if (!list && file !== "byName.json" && !byId) return fail(c, "610", "Requested resource not found");
      return list
        ? ok(c, { errors: [], result: [listView(list)] })
        : ok(c, { errors: [], warnings: [NOT_FOUND_WARNING] });
    });

    // The Asset API reads form fields only: a JSON body leaves `name` blank.
    app.post("/rest/asset/v1/staticLists.json", async (c) => {
      const form = new URLSearchParams(await c.req.text());
      const name = form.get("name");
      if (!name) return fail(c, "701", "name cannot be blank");
      const folder = parseFolder(form.get("folder"));
      if (!folder) return fail(c, "701", "folder cannot be blank");
      if (folder.type !== "Folder" || !folders.some((f) => f.id === folder.id)) {
        return fail(c, "710", "Parent folder not found");
      }
      if ([...state.lists.values()].some((l) => l.name === name)) {
        return fail(c, "709", `Static list with name '${name}' already exists`);
      }
      const at = iso(now());
      const list: MockStaticList = {
        id: ++state.ids.list,
        name,
        description: form.get("description") ?? undefined,
        folderId: folder.id,
        createdAt: at,
        updatedAt: at,
        members: new Set(),
      };
      state.lists.set(list.id, list);
      return ok(c, { errors: [], result: [listView(list)] });
    });

    app.get("/rest/asset/v1/folder/:file", (c) => {
      const id = /^(\d+)\.json$/.exec(c.req.param("file"))?.[1];
      const folder = folders.find((f) => String(f.id) === id);
      if (!folder || (c.req.query("type") ?? "Folder") !== "Folder") return ok(c, { warnings: [NOT_FOUND_WARNING] });
      return ok(c, {
        errors: [],
        result: [
          { id: folder.id, name: folder.name, folderId: { id: folder.id, type: "Folder" }, folderType: "Folder" },
        ],
      });
    });

    app.get("/rest/v1/activities/pagingtoken.json", (c) => {
      const since = c.req.query("sinceDatetime");
      if (!since) return fail(c, "701", "sinceDatetime cannot be blank");
      const sinceMs = Date.parse(since);
      if (Number.isNaN(sinceMs)) return fail(c, "1001", `Invalid value '${since}'. Required of type 'datetime'`);
      const before = state.activities.filter((a) => Date.parse(a.activityDate) < sinceMs);
      return ok(c, { nextPageToken: pagingToken(before.at(-1)?.id ?? 0) });
    });

    app.get("/rest/v1/activities.json", (c) => {
      const token = c.req.query("nextPageToken");
      const types = (c.req.query("activityTypeIds") ?? "").split(",").filter(Boolean).map(Number);
      if (!token) return fail(c, "701", "nextPageToken cannot be blank");
      if (!types.length) return fail(c, "701", "activityTypeIds cannot be blank");
      if (types.length > 10) return fail(c, "1003", "Too many activityTypeIds, max is 10");
      const after = readPagingToken(token);
      if (after === undefined) return fail(c, "1001", `Invalid value '${token}'. Required of type 'nextPageToken'`);
      const later = state.activities.filter((a) => a.id > after);
      const matching = later.filter((a) => types.includes(a.activityTypeId));
      const page = matching.slice(0, pageSize);
      const more = matching.length > pageSize;
      // The token after a full page resumes after its last activity; otherwise after everything scanned.
      const lastId = more ? (page.at(-1)?.id ?? after) : (later.at(-1)?.id ?? after);
      return ok(c, { nextPageToken: pagingToken(lastId), moreResult: more, ...(page.length ? { result: page } : {}) });
    });
  }

  const vendor = await startMockVendor((app) => define(app), reset, options);
  return Object.assign(vendor, {
    clientId,
    clientSecret,
    folderId: folders[0]?.id ?? 0,
    limiter,
    inFlight: () => state.inFlight,
    leads: () => [...state.leads.values()],
    addLead: createLead,
    lists: () => [...state.lists.values()],
    listMembers(name: string) {
      const list = [...state.lists.values()].find((l) => l.name === name);
      return list ? [...list.members].flatMap((id) => state.leads.get(id) ?? []) : [];
    },
    addActivities(...seeds: ActivitySeed[]) {
      return seeds.map((seed) => {
        const id = ++state.ids.activity;
        const activity: MockActivity = {
          id,
          marketoGUID: String(id),
          leadId: seed.leadId,
          activityDate: seed.activityDate ?? iso(now()),
          activityTypeId: seed.activityTypeId,
          primaryAttributeValueId: seed.primaryAttributeValueId,
          primaryAttributeValue: seed.primaryAttributeValue,
          attributes: Object.entries(seed.attributes ?? {}).map(([name, value]) => ({ name, value })),
        };
        state.activities.push(activity);
        return activity;
      });
    },
    expireTokens() {
      for (const token of state.tokens.keys()) state.tokens.set(token, now() - 1);
    },
    revokeTokens() {
      state.tokens.clear();
      state.current = undefined;
    },
    exhaustDailyQuota() {
      state.callsToday = dailyQuota;
    },
    hold() {
      state.gate = new Promise<void>((resolve) => {
        state.release = () => {
          state.gate = undefined;
          state.release = () => {};
          resolve();
        };
      });
      return () => state.release();
    },
  });
}

async function jsonBody(c: Context): Promise<unknown> {
  try {
    return JSON.parse(await c.req.text());
  } catch {
    return undefined;
  }
}

/** Lead ids from a `{input:[{id}]}` body. */
function idsOf(body: unknown): number[] {
  const input = (body as { input?: unknown } | undefined)?.input;
  return Array.isArray(input) ? input.map((item) => Number((item as { id?: unknown }).id)) : [];
}

function parseFolder(text: string | null): { id: number; type: string } | undefined {
  try {
    const folder = JSON.parse(text ?? "") as { id?: unknown; type?: unknown };
    return typeof folder.id === "number" && typeof folder.type === "string"
      ? { id: folder.id, type: folder.type }
      : undefined;
  } catch {
    return undefined;
  }
}
