/**
 * Marketo (DESIGN §7, reference/maps.md §1 and §4.2): leads upserted by email with `createOrUpdate`, each audience a
 * static list `tessera_<key>` in the configured folder, membership by lead id. Marketo answers almost every failure
 * with HTTP 200 and `success:false`, so every call goes through {@link marketoCall}, and {@link classifyMarketoCode}
 * is the one place that decides what a code means (retry, fail, throttle, re-authenticate).
 *
 * @example
 * const [outcome] = await marketo.upsertContacts(ctx, [
 *   { identity: { profileId: "p1", email: "ada@example.com" }, traits: { first_name: "Ada" } },
 * ]);
 * // { status: "ok", vendorId: "50" } — the lead id, remembered by the engine for list membership
 */
import { hmacSha256, toHex } from "../hmac";
import {
  AuthRefused,
  type ContactUpsert,
  type DestinationPlugin,
  type FailCode,
  type MembershipOp,
  type Outcome,
  type PluginContext,
  Redirected,
  Throttled,
} from "../plugin";
import { retryAfterMs } from "../retry-after";
import { type Settings, settingsProblem } from "./config-settings";

export interface MarketoConfig {
  /** The instance's REST host, `https://<munchkin-id>.mktorest.com` (the `/rest` suffix Marketo's admin shows is dropped). */
  base_url: string;
  client_id: string;
  client_secret: string;
  /** The folder where audience lists are created: Marketo's Asset API creates a list only inside a folder. */
  folder_id: number | string;
}

const MARKETO_SETTINGS = {
  base_url: true,
  client_id: true,
  client_secret: true,
  folder_id: true,
} satisfies Settings<MarketoConfig>;

/** Marketo's answer to almost every REST call, success or failure (HTTP 200 either way). */
export interface MarketoEnvelope<T> {
  requestId?: string;
  success: boolean;
  result?: T[];
  errors?: MarketoReason[];
  warnings?: string[];
  nextPageToken?: string;
  moreResult?: boolean;
}

export interface MarketoReason {
  code: string;
  message: string;
}

/** A per-item result (`leads.json`, `lists/{id}/leads.json`, `leads/delete.json`). */
interface RecordResult {
  id?: number;
  status: string;
  reasons?: MarketoReason[];
}

/** What a failed call means for every item it carried. */
export type MarketoFailure = Extract<Outcome, { status: "retry" } | { status: "fail" }>;

/** A call's body, or what its failure means; throttling and refused credentials are thrown instead (see plugin.ts). */
export type MarketoReply<T> =
  | { ok: true; body: MarketoEnvelope<T> }
  | { ok: false; failure: MarketoFailure; code?: string };

export interface MarketoRequest {
  method: "GET" | "POST" | "DELETE";
  path: string;
  query?: URLSearchParams;
  json?: unknown;
  form?: Record<string, string>;
}

/** What a Marketo error code means: an item outcome, or a signal for the whole call. */
export type MarketoVerdict =
  | MarketoFailure
  | { status: "reauthenticate"; reason: string }
  | { status: "throttled"; retryAfterMs: number; reason: string };

/** Marketo's ceilings (maps.md §1b/§1c): 300 records a call, 100 calls in a 20-second window, 10 in flight. */
const BATCH = 300;
const WINDOW_MS = 20_000;
/** Marketo answers 414 past 8 KB of URI; a longer GET is sent as a POST with `_method=GET` and a form body. */
const MAX_URI = 8_000;
/** Marketo resets the daily quota at 00:00 CST. Fixed UTC−6 rather than US Central with DST: in summer it is 01:00
 * CDT, an hour after the earliest possible reset, so the retry never lands before the reset and loses a whole day. */
const CST_OFFSET_MS = 6 * 3_600_000;
const DAY_MS = 86_400_000;

/** Documented data codes (maps.md §1c, Marketo's error-code list): the request or record is wrong, retrying won't help. */
const FAILING_CODES = new Map<string, FailCode>([
  ["603", "auth"], // authenticated, but the API user lacks the permission
  ["609", "invalid_payload"],
  ["610", "invalid_payload"],
  ["612", "invalid_payload"],
  ["613", "invalid_payload"],
  ["701", "invalid_payload"],
  ["704", "invalid_payload"],
  ["709", "invalid_payload"],
  ["710", "config"], // folder_id does not exist
  ["711", "config"], // folder_id is not a folder lists can live in
  ["1001", "invalid_payload"],
  ["1002", "invalid_payload"],
  ["1003", "invalid_payload"],
  ["1004", "not_found"],
  ["1005", "invalid_payload"],
  ["1006", "config"], // a synced trait has no Marketo field of that name
  ["1007", "invalid_identity"], // several leads share the email
  ["1008", "config"],
  ["1009", "config"],
  ["1010", "config"],
  ["1011", "config"],
  ["1013", "not_found"],
  ["1014", "invalid_payload"],
  ["1017", "invalid_payload"],
  ["1018", "config"],
  ["1036", "invalid_payload"],
]);

/**
 * What Marketo's `code` means. 601/602: fetch a token and replay; 606/615: throttled for the 20-second window;
 * 607: throttled until the daily quota resets; documented data codes: fail. Everything else is retried — the known
 * transient ones (502, 604, 608, 611, 614, 713, 719, 1016, 1019, 1029) and codes we have never seen, since a new
 * code is more often a passing condition than a bad record, and retries end in the dead-letter store anyway.
 *
 * @example
 * classifyMarketoCode("606", "Max rate limit '100' exceeded with in '20' secs", Date.now()) // { status: "throttled", retryAfterMs: 20000, … }
 */
export function classifyMarketoCode(code: string, message: string, now: number): MarketoVerdict {
  const reason = `Marketo ${code}: ${message}`;
  if (code === "601" || code === "602") return { status: "reauthenticate", reason };
  if (code === "606" || code === "615") return { status: "throttled", retryAfterMs: WINDOW_MS, reason };
  if (code === "607") return { status: "throttled", retryAfterMs: untilQuotaReset(now), reason };
  const fail = FAILING_CODES.get(code);
  if (fail) return { status: "fail", code: fail, message: reason };
  return { status: "retry", reason };
}

/** Milliseconds from `now` to the next 00:00 CST (UTC−6). */
export function untilQuotaReset(now: number): number {
  const sinceMidnight = (((now - CST_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS;
  return DAY_MS - sinceMidnight;
}

/**
 * One authenticated Marketo call: the cached token (fetched when missing or expired), Marketo's HTTP-200 error
 * envelope parsed, and on 601/602 one fresh token and one replay. Throws `Throttled` (606/607/615) and `AuthRefused`
 * (credentials refused, or 601/602 again after a fresh token); every other failure comes back as a value.
 */
export async function marketoCall<T>(ctx: PluginContext<MarketoConfig>, req: MarketoRequest): Promise<MarketoReply<T>> {
  for (let attempt = 1; ; attempt++) {
    const token = await accessToken(ctx, attempt > 1);
    if (typeof token !== "string") return { ok: false, failure: token };
    const answer = await send<T>(ctx, token, req);
    if (!("success" in answer)) return { ok: false, failure: answer };
    if (answer.success) return { ok: true, body: answer };
    const { code, message } = answer.errors?.[0] ?? { code: "", message: "success:false without an error code" };
    const verdict = classifyMarketoCode(code, message, ctx.now());
    if (verdict.status === "throttled") throw new Throttled(verdict.retryAfterMs, verdict.reason);
    if (verdict.status === "reauthenticate") {
      if (attempt === 1) continue;
      throw new AuthRefused(`${verdict.reason} (again with a fresh token)`);
    }
    return { ok: false, failure: verdict, code };
  }
}

/** The `ctx.store` key of the access token: one per destination, whichever credentials minted it. */
const TOKEN_KEY = "marketo:token";

interface CachedToken {
  access_token: string;
  expires_at: number;
  /** The credentials that minted it, as {@link credentialsOf} fingerprints them. */
  credentials: string;
}

/**
 * A fingerprint of the credentials a token is minted from: the instance and client id under an HMAC keyed by the
 * client secret, so the store keeps nothing of the secret. A `PUT` of new ones (any of the three) makes the cached
 * token another config's.
 */
async function credentialsOf(config: MarketoConfig): Promise<string> {
  return toHex(await hmacSha256(config.client_secret, `${endpoint(config, "")}\n${config.client_id}`));
}

/**
 * The access token, from `ctx.store` until its own expiry, if the current credentials minted it: one minted from the
 * old ones would go on working (for the old instance, or past a revoked secret) until it expired. No early refresh:
 * Marketo hands back the same token until it expires, so refreshing early buys nothing, and a token that expires in
 * flight is answered 602 and replayed. The expiry is kept in the value because a store may keep entries longer than
 * asked (KV's TTL is at least 60 s).
 */
async function accessToken(ctx: PluginContext<MarketoConfig>, fresh: boolean): Promise<string | MarketoFailure> {
  const { config } = ctx;
  const credentials = await credentialsOf(config);
  if (!fresh) {
    const cached = await ctx.store.get(TOKEN_KEY);
    const token = cached ? (JSON.parse(cached) as CachedToken) : undefined;
    if (token && token.credentials === credentials && token.expires_at > ctx.now()) return token.access_token;
  }
  // A form body rather than the query string Marketo also accepts: the secret stays out of URLs and their logs.
  const res = await fetchOrFailure(ctx, endpoint(config, "/identity/oauth/token"), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: config.client_id,
      client_secret: config.client_secret,
    }).toString(),
  });
  if (!(res instanceof Response)) return res;
  const body = parseJson(await res.text()) as {
    access_token?: string;
    expires_in?: number;
    error_description?: string;
  };
  // Marketo answers unknown or wrong client credentials with 401 (400 for a grant it cannot read).
  if (res.status === 401 || res.status === 400) {
    throw new AuthRefused(`Marketo refused the client credentials: ${body?.error_description ?? `HTTP ${res.status}`}`);
  }
  if (!res.ok || typeof body?.access_token !== "string") {
    return { status: "retry", reason: `Marketo token endpoint answered HTTP ${res.status}` };
  }
  const lifetimeMs = Math.max(0, (body.expires_in ?? 0) * 1000);
  const cached: CachedToken = { access_token: body.access_token, expires_at: ctx.now() + lifetimeMs, credentials };
  await ctx.store.put(TOKEN_KEY, JSON.stringify(cached), lifetimeMs);
  return body.access_token;
}

/** Sends one REST request; HTTP-level failures (Marketo's 413/414, a gateway's 502, the network) become values. */
async function send<T>(
  ctx: PluginContext<MarketoConfig>,
  token: string,
  req: MarketoRequest,
): Promise<MarketoEnvelope<T> | MarketoFailure> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let { method } = req;
  let url = endpoint(ctx.config, req.path, req.query);
  let body: string | undefined;
  if (req.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(req.json);
  } else if (req.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(req.form).toString();
  } else if (method === "GET" && req.query && url.length > MAX_URI) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = req.query.toString();
    url = endpoint(ctx.config, req.path, new URLSearchParams({ _method: "GET" }));
    method = "POST";
  }
  const res = await fetchOrFailure(ctx, url, { method, headers, body });
  if (!(res instanceof Response)) return res;
  if (res.ok) {
    const envelope = parseJson(await res.text()) as MarketoEnvelope<T> | undefined;
    return typeof envelope?.success === "boolean"
      ? envelope
      : { status: "retry", reason: `Marketo answered HTTP ${res.status} without its JSON envelope` };
  }
  if (res.status === 413 || res.status === 414) {
    return {
      status: "fail",
      code: "invalid_payload",
      message: `Marketo answered HTTP ${res.status}: request too large`,
    };
  }
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    return { status: "retry", reason: `Marketo answered HTTP ${res.status}`, ...retryAfter(res) };
  }
  // Marketo's REST API uses no other HTTP errors: base_url does not point at a Marketo REST host.
  return {
    status: "fail",
    code: "config",
    message: `HTTP ${res.status} from ${ctx.config.base_url}: is base_url right?`,
  };
}

async function fetchOrFailure(
  ctx: PluginContext<MarketoConfig>,
  url: string,
  init: RequestInit,
): Promise<Response | MarketoFailure> {
  // Called unbound: Workers' fetch throws "Illegal invocation" when called as a method of another object.
  const { fetch } = ctx;
  try {
    return await fetch(url, init);
  } catch (error) {
    if (error instanceof Redirected) throw error; // the whole destination's address is wrong: it pauses
    return {
      status: "retry",
      reason: `Marketo unreachable: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

function retryAfter(res: Response): { retryAfterMs?: number } {
  const wait = retryAfterMs(res.headers.get("retry-after"));
  return wait === undefined ? {} : { retryAfterMs: wait };
}

function endpoint(config: MarketoConfig, path: string, query?: URLSearchParams): string {
  const base = config.base_url.replace(/\/+$/, "").replace(/\/rest$/, "");
  const search = query?.toString();
  return `${base}${path}${search ? `?${search}` : ""}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The outcome of one record Marketo skipped, from its first reason. */
function skippedOutcome(record: RecordResult, now: number): Outcome {
  const reason = record.reasons?.[0];
  if (!reason) return { status: "retry", reason: `Marketo answered status "${record.status}" without a reason` };
  const verdict = classifyMarketoCode(reason.code, reason.message, now);
  if (verdict.status === "throttled")
    return { status: "retry", reason: verdict.reason, retryAfterMs: verdict.retryAfterMs };
  if (verdict.status === "reauthenticate") return { status: "fail", code: "auth", message: verdict.reason };
  return verdict;
}

/** Segment's trait names → Marketo's field API names; other traits go by their own name (a Marketo custom field). */
const FIELD_NAMES = new Map([
  ["first_name", "firstName"],
  ["last_name", "lastName"],
  ["phone", "phone"],
  ["company", "company"],
  ["title", "title"],
  ["city", "city"],
  ["country", "country"],
]);

function toLead(email: string, traits: Record<string, unknown>): Record<string, unknown> {
  const lead: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(traits)) {
    if (value === undefined) continue;
    // Marketo fields are scalars: a list or object trait is sent as its JSON text.
    lead[FIELD_NAMES.get(name) ?? name] = value !== null && typeof value === "object" ? JSON.stringify(value) : value;
  }
  lead.email = email;
  return lead;
}

/** `createOrUpdate` by email; one outcome per lead, in order (Marketo's `result` follows the input order). */
async function syncLeads(ctx: PluginContext<MarketoConfig>, leads: Record<string, unknown>[]): Promise<Outcome[]> {
  const reply = await marketoCall<RecordResult>(ctx, {
    method: "POST",
    path: "/rest/v1/leads.json",
    json: { action: "createOrUpdate", lookupField: "email", input: leads },
  });
  if (!reply.ok) return leads.map(() => reply.failure);
  const results = reply.body.result ?? [];
  if (results.length !== leads.length) {
    return leads.map(() => ({
      status: "retry",
      reason: `Marketo answered ${results.length} results for ${leads.length}`,
    }));
  }
  return results.map((r) =>
    r.status !== "skipped" && r.id !== undefined
      ? { status: "ok", vendorId: String(r.id) }
      : skippedOutcome(r, ctx.now()),
  );
}

/** Lead ids by lowercased email, every lead of each email (Marketo allows duplicates). */
async function findLeads(
  ctx: PluginContext<MarketoConfig>,
  emails: string[],
): Promise<Map<string, number[]> | MarketoFailure> {
  const reply = await marketoCall<{ id: number; email?: string }>(ctx, {
    method: "GET",
    path: "/rest/v1/leads.json",
    query: new URLSearchParams({ filterType: "email", filterValues: emails.join(","), fields: "id,email" }),
  });
  if (!reply.ok) return reply.failure;
  const found = new Map<string, number[]>();
  for (const lead of reply.body.result ?? []) {
    const email = lead.email?.toLowerCase() ?? "";
    found.set(email, [...(found.get(email) ?? []), lead.id]);
  }
  return found;
}

interface StaticList {
  id: number;
  name: string;
}

/**
 * The id of the static list `name`: cached in `ctx.store`, else found by name, else created in `folder_id`. When the
 * create fails, the name is looked up once more: another worker may have created the list in the meantime.
 */
async function staticListId(
  ctx: PluginContext<MarketoConfig>,
  list: { key: string; name: string },
  fresh: boolean,
): Promise<number | MarketoFailure> {
  // Keyed like the token, by the instance and client id: a list id is one instance's, and a destination moved to
  // another instance (a PUT of `base_url`) must not add its members to whatever list has that id there.
  const key = `marketo:${await credentialsOf(ctx.config)}:list:${list.name}`;
  const cached = fresh ? undefined : await ctx.store.get(key);
  if (cached) return Number(cached);
  const find = () =>
    marketoCall<StaticList>(ctx, {
      method: "GET",
      path: "/rest/asset/v1/staticList/byName.json",
      query: new URLSearchParams({ name: list.name }),
    });
  let reply = await find();
  if (reply.ok && !reply.body.result?.length) {
    const created = await marketoCall<StaticList>(ctx, {
      method: "POST",
      path: "/rest/asset/v1/staticLists.json",
      form: {
        name: list.name,
        folder: JSON.stringify({ id: Number(ctx.config.folder_id), type: "Folder" }),
        description: `Tessera audience ${list.key}`,
      },
    });
    reply = created.ok ? created : await find();
    if (reply.ok && !reply.body.result?.length) reply = created;
  }
  if (!reply.ok) return reply.failure;
  const id = reply.body.result?.[0]?.id;
  if (id === undefined) return { status: "retry", reason: `Marketo returned no list named ${list.name}` };
  await ctx.store.put(key, String(id));
  return id;
}

/**
 * The lead id of each item: the one the engine remembered, else found by email. Leads to be added that Marketo lacks
 * are created first (membership takes ids only); a lead to be removed that Marketo lacks is already off the list.
 */
async function resolveLeadIds(
  ctx: PluginContext<MarketoConfig>,
  items: MembershipOp[],
): Promise<Array<number | Outcome>> {
  const resolved: Array<number | Outcome> = new Array(items.length);
  const additions: number[] = [];
  const removals: number[] = [];
  items.forEach(({ identity, member }, i) => {
    if (identity.vendorId && /^\d+$/.test(identity.vendorId)) resolved[i] = Number(identity.vendorId);
    else if (!identity.email) resolved[i] = { status: "skip", reason: "no email" };
    else (member ? additions : removals).push(i);
  });
  const emailOf = (i: number) => items[i].identity.email as string;
  if (removals.length) {
    const found = await findLeads(ctx, [...new Set(removals.map(emailOf))]);
    for (const i of removals) {
      resolved[i] = found instanceof Map ? (found.get(emailOf(i))?.[0] ?? { status: "ok" }) : found;
    }
  }
  if (additions.length) {
    const outcomes = await syncLeads(
      ctx,
      additions.map((i) => ({ email: emailOf(i) })),
    );
    additions.forEach((i, k) => {
      const outcome = outcomes[k];
      resolved[i] = outcome.status === "ok" && outcome.vendorId ? Number(outcome.vendorId) : outcome;
    });
  }
  return resolved;
}

/** Adds or removes lead ids on a list: Marketo's result per id, or the call's failure. */
async function changeMembership(
  ctx: PluginContext<MarketoConfig>,
  listId: number,
  member: boolean,
  ids: number[],
): Promise<MarketoReply<RecordResult>> {
  return member
    ? marketoCall<RecordResult>(ctx, {
        method: "POST",
        path: `/rest/v1/lists/${listId}/leads.json`,
        json: { input: ids.map((id) => ({ id })) },
      })
    : marketoCall<RecordResult>(ctx, {
        method: "DELETE",
        path: `/rest/v1/lists/${listId}/leads.json`,
        query: new URLSearchParams(ids.map((id) => ["id", String(id)])),
      });
}

export const marketo: DestinationPlugin<MarketoConfig> = {
  type: "marketo",

  validateConfig(config) {
    const shape = settingsProblem(config, MARKETO_SETTINGS, "Marketo");
    if (shape) return shape;
    const c = config as Record<string, unknown>;
    if (typeof c.base_url !== "string" || !/^https?:\/\/[^/\s]+/.test(c.base_url)) {
      return "base_url: must be the instance's REST URL, https://<munchkin-id>.mktorest.com";
    }
    for (const field of ["client_id", "client_secret"]) {
      const value = c[field];
      if (typeof value !== "string" || !value.trim()) return `${field}: required`;
    }
    if (!/^\d+$/.test(String(c.folder_id ?? ""))) return "folder_id: must be a Marketo folder id (a whole number)";
    return null;
  },

  secretFields: ["client_secret"],

  limits: {
    upsertBatch: BATCH,
    membershipBatch: BATCH,
    concurrency: 10,
    rate: { limit: 100, perMs: WINDOW_MS },
  },

  async testConnection(ctx) {
    // Reading the configured folder checks the credentials and folder_id, which list creation needs, in one call.
    const reply = await marketoCall<{ id: number }>(ctx, {
      method: "GET",
      path: `/rest/asset/v1/folder/${ctx.config.folder_id}.json`,
      query: new URLSearchParams({ type: "Folder" }),
    });
    if (!reply.ok) {
      throw new Error(reply.failure.status === "fail" ? reply.failure.message : reply.failure.reason);
    }
    if (!reply.body.result?.length) throw new Error(`folder_id: Marketo has no folder ${ctx.config.folder_id}`);
  },

  async upsertContacts(ctx, items: ContactUpsert[]) {
    const outcomes: Outcome[] = items.map(() => ({ status: "skip", reason: "no email" }));
    const sendable = items.flatMap((item, i) => (item.identity.email ? [i] : []));
    if (!sendable.length) return outcomes;
    const results = await syncLeads(
      ctx,
      sendable.map((i) => toLead(items[i].identity.email as string, items[i].traits)),
    );
    sendable.forEach((i, k) => {
      outcomes[i] = results[k];
    });
    return outcomes;
  },

  async applyMemberships(ctx, list, items) {
    const found = await staticListId(ctx, list, false);
    if (typeof found !== "number") return items.map(() => found);
    let listId = found;
    const resolved = await resolveLeadIds(ctx, items);
    const outcomes = resolved.map((r): Outcome => (typeof r === "number" ? { status: "ok", vendorId: String(r) } : r));
    for (const member of [true, false]) {
      const indexes = items.flatMap((item, i) =>
        item.member === member && typeof resolved[i] === "number" ? [i] : [],
      );
      if (!indexes.length) continue;
      const ids = [...new Set(indexes.map((i) => resolved[i] as number))];
      let reply = await changeMembership(ctx, listId, member, ids);
      if (!reply.ok && reply.code === "1013") {
        // The cached list was deleted in Marketo: find or create it again, once.
        const again = await staticListId(ctx, list, true);
        if (typeof again !== "number") return items.map(() => again);
        listId = again;
        reply = await changeMembership(ctx, listId, member, ids);
      }
      const byId = new Map<number, Outcome>();
      if (reply.ok) {
        for (const r of reply.body.result ?? []) {
          if (r.id === undefined) continue;
          const notInList = !member && r.reasons?.[0]?.code === "1015";
          byId.set(
            r.id,
            r.status !== "skipped" || notInList
              ? { status: "ok", vendorId: String(r.id) }
              : skippedOutcome(r, ctx.now()),
          );
        }
      }
      for (const i of indexes) {
        const id = resolved[i] as number;
        outcomes[i] = reply.ok
          ? (byId.get(id) ?? { status: "retry", reason: `Marketo returned no result for lead ${id}` })
          : reply.failure;
      }
    }
    return outcomes;
  },

  async deleteContact(ctx, person) {
    // Every lead of every email the person had, and the ones remembered: a GDPR delete must not leave a duplicate
    // behind. Looked up and deleted by the 300 Marketo takes a call.
    const ids = new Set<number>();
    for (const id of person.vendorIds) if (/^\d+$/.test(id)) ids.add(Number(id));
    if (person.emails.length === 0 && ids.size === 0) return { status: "skip", reason: "no email" };
    for (let i = 0; i < person.emails.length; i += BATCH) {
      const emails = person.emails.slice(i, i + BATCH);
      const found = await findLeads(ctx, emails);
      if (!(found instanceof Map)) return found;
      for (const email of emails) for (const id of found.get(email) ?? []) ids.add(id);
    }
    const all = [...ids];
    for (let i = 0; i < all.length; i += BATCH) {
      const reply = await marketoCall<RecordResult>(ctx, {
        method: "POST",
        path: "/rest/v1/leads/delete.json",
        json: { input: all.slice(i, i + BATCH).map((id) => ({ id })) },
      });
      if (!reply.ok) return reply.failure;
      for (const r of reply.body.result ?? []) {
        // 1004: the lead is already gone, which is what was asked.
        if (r.status === "skipped" && r.reasons?.[0]?.code !== "1004") return skippedOutcome(r, ctx.now());
      }
    }
    return { status: "ok" };
  },
};
