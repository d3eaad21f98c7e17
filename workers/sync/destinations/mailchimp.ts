/**
 * The Mailchimp destination (DESIGN §7, reference/maps.md §1 and §2.2): contacts are members of one audience
 * (`list_id`), keyed by `md5(lowercase email)`; each Tessera audience is a static segment named `tessera_<key>`;
 * a GDPR delete is `delete-permanent`. Mailchimp publishes no rate-limit headers and no `Retry-After`: its limit is
 * 10 connections in flight per user, which the engine keeps through `limits.concurrency`.
 *
 * @example
 * const outcomes = await mailchimp.upsertContacts(ctx, [{ identity: { profileId: "p1", email: "ada@x.io" }, traits: { first_name: "Ada" } }]);
 * // [{ status: "ok" }]  (sent as FNAME)
 */
import { toBase64 } from "../hmac";
import {
  AuthRefused,
  type ContactUpsert,
  type DestinationPlugin,
  type ErasedContact,
  type FailCode,
  type Outcome,
  type PluginContext,
  Redirected,
  Throttled,
} from "../plugin";
import { retryAfterMs } from "../retry-after";
import { optionalSecretProblem, type Settings, settingsProblem } from "./config-settings";
import { erasedOutcome } from "./erased-outcome";

export type MailchimpStatusIfNew = "subscribed" | "pending" | "transactional";

export interface MailchimpConfig {
  /** `<key>-<dc>`: the suffix names the datacenter that hosts the account. */
  api_key: string;
  /** The audience the contacts live in. */
  list_id: string;
  /** Defaults to `https://<dc>.api.mailchimp.com/3.0`; tests point it at the mock. */
  base_url?: string;
  /**
   * The status a contact Tessera creates gets. `pending` and `transactional` never change an existing member's
   * status; `subscribed` (the default) also subscribes existing pending or transactional members, never unsubscribed
   * or cleaned ones (see `upsertContacts`: Mailchimp's batch takes a status, not a status for new members only).
   */
  status_if_new?: MailchimpStatusIfNew;
  /**
   * The secret Mailchimp's webhooks must carry in their URL's query (see `inbound/mailchimp.ts`); without it, the
   * destination's own inbound secret, the one in its `webhook_url`.
   */
  webhook_secret?: string;
}

const MAILCHIMP_SETTINGS = {
  api_key: true,
  list_id: true,
  base_url: true,
  status_if_new: true,
  webhook_secret: true,
} satisfies Settings<MailchimpConfig>;

const STATUSES_IF_NEW: readonly string[] = ["subscribed", "pending", "transactional"];

/** Mailchimp's 429 carries no `Retry-After`; its concurrency cap clears within seconds. */
const DEFAULT_THROTTLE_MS = 10_000;

/** Mailchimp's largest page (`count`). */
const PAGE_SIZE = 1000;

/** Mailchimp's cap on `members[]`, `members_to_add` and `members_to_remove`. */
const MAX_ITEMS = 500;

type Ctx = PluginContext<MailchimpConfig>;
type Failure = Extract<Outcome, { status: "retry" | "fail" }>;

const NO_EMAIL: Outcome = { status: "skip", reason: "no email: Mailchimp keys members by email" };

/** The first problem of a destination config, as `field: reason`, or null. */
export function validateMailchimpConfig(config: unknown): string | null {
  const shape = settingsProblem(config, MAILCHIMP_SETTINGS, "Mailchimp");
  if (shape) return shape;
  const c = config as Record<string, unknown>;
  if (typeof c.api_key !== "string" || c.api_key.trim() === "") return "api_key: required";
  if (typeof c.list_id !== "string" || c.list_id.trim() === "") return "list_id: required";
  if (c.base_url !== undefined) {
    if (typeof c.base_url !== "string" || !isHttpUrl(c.base_url)) return "base_url: must be an http(s) URL";
  } else if (!datacenter(c.api_key)) {
    return "api_key: must end with its datacenter (…-us21) when base_url is not set";
  }
  if (c.status_if_new !== undefined && !STATUSES_IF_NEW.includes(c.status_if_new as string)) {
    return `status_if_new: must be one of ${STATUSES_IF_NEW.join(", ")}`;
  }
  return optionalSecretProblem(c, "webhook_secret");
}

function isHttpUrl(value: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

function datacenter(apiKey: string): string | undefined {
  return /-([a-z]+\d+)$/i.exec(apiKey)?.[1]?.toLowerCase();
}

/** Where the API of this account lives: `base_url`, else the datacenter named by the API key's suffix. */
export function mailchimpBaseUrl(config: MailchimpConfig): string {
  if (config.base_url) return config.base_url.replace(/\/+$/, "");
  return `https://${datacenter(config.api_key)}.api.mailchimp.com/3.0`;
}

/** A member's id in every Mailchimp path: MD5 of the lowercased address. */
export function subscriberHash(email: string): string {
  return md5Hex(email.trim().toLowerCase());
}

// MD5 (RFC 1321). WebCrypto has no MD5 (Node's `crypto.subtle` refuses it; the Worker's non-standard support does
// not exist in Node), no MD5 package is installed, and Mailchimp requires it for member ids; it is not used for
// security. Tested against the RFC's vectors and node:crypto.
const MD5_SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const MD5_K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);

/** Lowercase hex MD5 of the UTF-8 bytes of `text`. */
export function md5Hex(text: string): string {
  const message = new TextEncoder().encode(text);
  const length = Math.ceil((message.length + 9) / 64) * 64;
  const bytes = new Uint8Array(length);
  bytes.set(message);
  bytes[message.length] = 0x80;
  const view = new DataView(bytes.buffer);
  view.setUint32(length - 8, (message.length * 8) >>> 0, true);
  view.setUint32(length - 4, Math.floor((message.length * 8) / 2 ** 32), true);
  const state = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  for (let block = 0; block < length; block += 64) {
    let [a, b, c, d] = state;
    for (let i = 0; i < 64; i++) {
      const round = i >> 4;
      const f = [(b & c) | (~b & d), (d & b) | (~d & c), b ^ c ^ d, c ^ (b | ~d)][round];
      const word = [i, (5 * i + 1) % 16, (3 * i + 5) % 16, (7 * i) % 16][round];
      const sum = (a + f + MD5_K[i] + view.getInt32(block + word * 4, true)) | 0;
      const shift = MD5_SHIFTS[round * 4 + (i % 4)];
      [a, d, c] = [d, c, b];
      b = (b + ((sum << shift) | (sum >>> (32 - shift)))) | 0;
    }
    state[0] = (state[0] + a) | 0;
    state[1] = (state[1] + b) | 0;
    state[2] = (state[2] + c) | 0;
    state[3] = (state[3] + d) | 0;
  }
  const digest = new DataView(new ArrayBuffer(16));
  for (const [i, word] of state.entries()) digest.setInt32(i * 4, word, true);
  return [...new Uint8Array(digest.buffer)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A Mailchimp answer: the parsed body on 2xx, else the outcome every item of the call gets. */
export type MailchimpResponse =
  | { ok: true; status: number; body: unknown }
  | { ok: false; status: number; outcome: Failure };

/**
 * One authenticated call. Never throws on a status, except the account-wide signals: `Throttled` (429, or the bare
 * 403 Mailchimp sends under load) and `AuthRefused` (401, or a 403 with a problem body: wrong datacenter, disabled
 * user).
 */
export async function mailchimpRequest(
  ctx: Ctx,
  method: string,
  path: string,
  { query, json }: { query?: Record<string, string | number>; json?: unknown } = {},
): Promise<MailchimpResponse> {
  const url = new URL(mailchimpBaseUrl(ctx.config) + path);
  for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, String(value));
  const headers: Record<string, string> = {
    authorization: `Basic ${toBase64(new TextEncoder().encode(`anystring:${ctx.config.api_key}`))}`,
    accept: "application/json",
  };
  if (json !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await ctx.fetch(url, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  } catch (error) {
    if (error instanceof Redirected) throw error; // the whole destination's address is wrong: it pauses
    // No answer at all (refused, reset, Mailchimp's 120 s cut-off): nothing was decided, so it is worth another try.
    return { ok: false, status: 0, outcome: { status: "retry", reason: `Mailchimp unreachable: ${String(error)}` } };
  }
  return classify(response.status, response.headers, await response.text());
}

/** The one place where a Mailchimp status becomes ok, retry, fail, or an account-wide signal. */
function classify(status: number, headers: Headers, text: string): MailchimpResponse {
  const body = parseJson(text);
  if (status >= 200 && status < 300) return { ok: true, status, body };
  const problem = describeProblem(status, body);
  const wait = retryAfterMs(headers.get("retry-after"));
  if (status === 429 || (status === 403 && text.trim() === "")) {
    throw new Throttled(wait ?? DEFAULT_THROTTLE_MS, `Mailchimp throttled: ${problem}`);
  }
  if (status === 401 || status === 403) throw new AuthRefused(`Mailchimp refused the API key: ${problem}`);
  if (status === 408 || status >= 500) {
    const reason = `Mailchimp ${problem}`;
    return {
      ok: false,
      status,
      outcome: wait === undefined ? { status: "retry", reason } : { status: "retry", reason, retryAfterMs: wait },
    };
  }
  const code: FailCode = status === 404 ? "not_found" : "invalid_payload";
  return { ok: false, status, outcome: { status: "fail", code, message: `Mailchimp ${problem}` } };
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

function describeProblem(status: number, body: unknown): string {
  const p = (typeof body === "object" && body !== null ? body : {}) as { title?: string; detail?: string };
  return [status, p.title, p.detail].filter(Boolean).join(" ");
}

/** Every page of a Mailchimp collection (`count`/`offset` paging), or the first failure. */
export async function listAll<T>(
  ctx: Ctx,
  path: string,
  key: string,
  query: Record<string, string> = {},
): Promise<{ ok: true; items: T[] } | { ok: false; status: number; outcome: Failure }> {
  const items: T[] = [];
  for (let offset = 0; ; offset += PAGE_SIZE) {
    const r = await mailchimpRequest(ctx, "GET", path, { query: { ...query, count: PAGE_SIZE, offset } });
    if (!r.ok) return r;
    const body = r.body as Record<string, unknown>;
    const page = (body[key] as T[] | undefined) ?? [];
    items.push(...page);
    if (page.length < PAGE_SIZE || items.length >= Number(body.total_items ?? 0)) return { ok: true, items };
  }
}

/** Segment names of DESIGN §7's shared traits; other traits go by their own name, uppercased. */
const MERGE_TAGS = new Map([
  ["first_name", "FNAME"],
  ["last_name", "LNAME"],
  ["phone", "PHONE"],
  ["company", "COMPANY"],
  ["title", "TITLE"],
  ["city", "CITY"],
  ["country", "COUNTRY"],
]);

/** What Mailchimp accepts as a merge tag: letters, digits and `_`, at most 10 characters. */
const MERGE_TAG = /^[A-Z][A-Z0-9_]{0,9}$/;

/**
 * Traits as Mailchimp merge fields. A trait whose uppercased name is not a valid merge tag (longer than 10, or with
 * other characters) is left out rather than truncated, since truncation would silently merge distinct traits
 * (`favorite_color` and `favorite_colour`); objects and arrays are left out too (ADDRESS needs all of addr1, city,
 * state and zip, which Segment's traits rarely carry). `null` clears the field. A merge tag the audience does not
 * define is, as far as we know (unverified), ignored by Mailchimp rather than refused.
 */
export function mergeFields(traits: Record<string, unknown>): Record<string, string | number> {
  const fields: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(traits)) {
    const tag = MERGE_TAGS.get(name) ?? name.toUpperCase();
    if (tag === "EMAIL" || !MERGE_TAG.test(tag)) continue;
    if (value === null) fields[tag] = "";
    else if (typeof value === "string" || typeof value === "boolean") fields[tag] = String(value);
    else if (typeof value === "number" && Number.isFinite(value)) fields[tag] = value;
  }
  return fields;
}

interface BatchError {
  email_address: string;
  error: string;
  error_code?: string;
  field?: string;
  field_message?: string;
}

interface BatchAnswer {
  new_members?: Array<{ email_address: string }>;
  updated_members?: Array<{ email_address: string }>;
  errors?: BatchError[];
}

/**
 * Whether the batch refused only the status it carried for a member that exists: one already there when not
 * updating existing members, or an unsubscribed or cleaned one it would have subscribed ("… is in a compliance state
 * … and cannot be subscribed"). Its merge fields can still be written, without a status.
 */
function refusedStatusOnly(e: BatchError): boolean {
  return e.error_code === "ERROR_CONTACT_EXISTS" || /compliance state/i.test(e.error);
}

/** A per-member refusal of the batch endpoint as a permanent outcome. */
function memberFailure(e: BatchError): Outcome {
  const message = e.field ? `${e.error} (${e.field}: ${e.field_message ?? "invalid"})` : e.error;
  // GDPR-forgotten: Mailchimp never takes the address again, nor does a PATCH find it, a consent Tessera must keep.
  if (/permanently deleted|forgotten/i.test(e.error)) return { status: "fail", code: "compliance", message };
  if (e.field === "email_address" || /fake or invalid|valid email/i.test(e.error)) {
    return { status: "fail", code: "invalid_identity", message };
  }
  return { status: "fail", code: "invalid_payload", message };
}

/**
 * Creates or updates members; never changes an unsubscribed or cleaned member's status.
 *
 * Mailchimp's batch endpoint takes a `status` per member (it has no `status_if_new`), and `update_existing: true`
 * applies it to existing members. So:
 * - `status_if_new: "subscribed"` (default): one batch with `update_existing: true` and `status: "subscribed"`.
 *   Subscribed members stay so; pending or transactional members become subscribed, which is what this setting
 *   declares (consent is collected before Tessera sends). Mailchimp refuses to subscribe unsubscribed or cleaned
 *   members ("compliance state"), their status untouched: they get their merge fields as below, so they stay current.
 * - `"pending"` / `"transactional"`: a batch with `update_existing: false` creates the new members with that status;
 *   members that exist (`ERROR_CONTACT_EXISTS`) get their merge fields by `PATCH …/members/{hash}` one by one, the
 *   only Mailchimp call that updates fields without a status, since any status in a batch would either ask
 *   subscribed members to confirm again or subscribe unconfirmed ones.
 */
async function upsertContacts(ctx: Ctx, items: ContactUpsert[]): Promise<Outcome[]> {
  if (items.length > MAX_ITEMS) throw new Error(`at most ${MAX_ITEMS} contacts per call`);
  // The same address twice in a call is one member: the last traits win and both items share the outcome.
  const fields = new Map<string, Record<string, string | number>>();
  for (const item of items) {
    if (item.identity.email) fields.set(item.identity.email.toLowerCase(), mergeFields(item.traits));
  }
  const statusIfNew = ctx.config.status_if_new ?? "subscribed";
  const { results, existing } = await batchSubscribe(ctx, fields, statusIfNew, statusIfNew === "subscribed");
  for (const email of existing) results.set(email, await patchFields(ctx, email, fields.get(email) ?? {}));
  return items.map((item) => {
    const email = item.identity.email?.toLowerCase();
    return email ? (results.get(email) ?? { status: "retry", reason: "missing from Mailchimp's answer" }) : NO_EMAIL;
  });
}

/** `POST /lists/{id}`: one outcome per address, and the existing addresses whose status it refused to set. */
async function batchSubscribe(
  ctx: Ctx,
  fields: Map<string, Record<string, string | number>>,
  status: MailchimpStatusIfNew,
  updateExisting: boolean,
): Promise<{ results: Map<string, Outcome>; existing: string[] }> {
  const results = new Map<string, Outcome>();
  const existing: string[] = [];
  if (fields.size === 0) return { results, existing };
  const members = [...fields].map(([email, merge_fields]) => ({ email_address: email, status, merge_fields }));
  const r = await mailchimpRequest(ctx, "POST", `/lists/${encodeURIComponent(ctx.config.list_id)}`, {
    json: { members, update_existing: updateExisting },
  });
  if (!r.ok) {
    for (const email of fields.keys()) results.set(email, r.outcome);
    return { results, existing };
  }
  const answer = r.body as BatchAnswer;
  for (const m of [...(answer.new_members ?? []), ...(answer.updated_members ?? [])]) {
    results.set(m.email_address.toLowerCase(), { status: "ok" });
  }
  for (const e of answer.errors ?? []) {
    if (refusedStatusOnly(e)) existing.push(e.email_address.toLowerCase());
    else results.set(e.email_address.toLowerCase(), memberFailure(e));
  }
  return { results, existing };
}

async function patchFields(ctx: Ctx, email: string, fields: Record<string, string | number>): Promise<Outcome> {
  const r = await mailchimpRequest(ctx, "PATCH", memberPath(ctx, email), { json: { merge_fields: fields } });
  return r.ok ? { status: "ok" } : r.outcome;
}

function memberPath(ctx: Ctx, email: string): string {
  return `/lists/${encodeURIComponent(ctx.config.list_id)}/members/${subscriberHash(email)}`;
}

interface SegmentAnswer {
  errors?: Array<{ email_addresses?: string[]; error: string }>;
}

/** The static segment of an audience: cached id, else found by name (every page), else created. */
async function segmentId(
  ctx: Ctx,
  name: string,
): Promise<{ ok: true; id: string; cached: boolean } | { ok: false; outcome: Failure }> {
  const key = segmentKey(ctx, name);
  const cached = await ctx.store.get(key);
  if (cached) return { ok: true, id: cached, cached: true };
  const segments = `/lists/${encodeURIComponent(ctx.config.list_id)}/segments`;
  const all = await listAll<{ id: number; name: string }>(ctx, segments, "segments", { type: "static" });
  if (!all.ok) return all;
  let id = all.items.find((s) => s.name === name)?.id;
  if (id === undefined) {
    const created = await mailchimpRequest(ctx, "POST", segments, { json: { name, static_segment: [] } });
    if (!created.ok) return created;
    id = (created.body as { id: number }).id;
  }
  await ctx.store.put(key, String(id));
  return { ok: true, id: String(id), cached: false };
}

function segmentKey(ctx: Ctx, name: string): string {
  return `mailchimp:segment:${ctx.config.list_id}:${name}`;
}

/**
 * Adds and removes members of the audience's static segment. Mailchimp answers with the addresses it could not
 * handle: for an add that is an address not on the audience (`fail not_found`: the contact must be upserted first);
 * for a remove it means the address is not in the segment either, which is the state asked for.
 */
async function applyMemberships(
  ctx: Ctx,
  list: { name: string },
  items: Array<{ identity: { email?: string }; member: boolean }>,
): Promise<Outcome[]> {
  const emails = items.map((item) => item.identity.email?.toLowerCase());
  const adds = [...new Set(items.flatMap((item, i) => (item.member && emails[i] ? [emails[i]] : [])))];
  const removes = [...new Set(items.flatMap((item, i) => (!item.member && emails[i] ? [emails[i]] : [])))];
  if (adds.length > MAX_ITEMS || removes.length > MAX_ITEMS)
    throw new Error(`at most ${MAX_ITEMS} adds and removes per call`);
  const everyItem = (outcome: Outcome) => emails.map((email) => (email ? outcome : NO_EMAIL));
  if (adds.length + removes.length === 0) return everyItem(NO_EMAIL);

  let segment = await segmentId(ctx, list.name);
  if (!segment.ok) return everyItem(segment.outcome);
  const body = { members_to_add: adds, members_to_remove: removes };
  let r = await mailchimpRequest(ctx, "POST", segmentPath(ctx, segment.id), { json: body });
  if (!r.ok && r.status === 404 && segment.cached) {
    // The segment was deleted in Mailchimp since it was cached (the store cannot delete, so it is blanked).
    await ctx.store.put(segmentKey(ctx, list.name), "");
    segment = await segmentId(ctx, list.name);
    if (!segment.ok) return everyItem(segment.outcome);
    r = await mailchimpRequest(ctx, "POST", segmentPath(ctx, segment.id), { json: body });
  }
  if (!r.ok) return everyItem(r.outcome);
  const refused = new Map<string, string>();
  for (const e of (r.body as SegmentAnswer).errors ?? []) {
    for (const email of e.email_addresses ?? []) refused.set(email.toLowerCase(), e.error);
  }
  return items.map((item, i): Outcome => {
    const email = emails[i];
    if (!email) return NO_EMAIL;
    const error = refused.get(email);
    if (error && item.member) return { status: "fail", code: "not_found", message: `Mailchimp: ${error}` };
    return { status: "ok" };
  });
}

function segmentPath(ctx: Ctx, id: string): string {
  return `/lists/${encodeURIComponent(ctx.config.list_id)}/segments/${encodeURIComponent(id)}`;
}

/** GDPR: `delete-permanent` (the address can never be re-imported); a member Mailchimp does not have is done. */
async function deleteContact(ctx: Ctx, person: ErasedContact): Promise<Outcome> {
  if (person.emails.length === 0) return NO_EMAIL;
  // One member a call: Mailchimp's only batch is the generic asynchronous `/batches`, whose result is a file to poll.
  const outcomes: Outcome[] = [];
  let missing = false;
  for (const email of person.emails) {
    const r = await mailchimpRequest(ctx, "POST", `${memberPath(ctx, email)}/actions/delete-permanent`);
    if (r.status === 404) missing = true;
    else outcomes.push(r.ok ? { status: "ok" } : r.outcome);
  }
  if (missing) {
    // Mailchimp's 404 does not say whether the member or the audience is missing; only the former means "deleted".
    const list = await mailchimpRequest(ctx, "GET", `/lists/${encodeURIComponent(ctx.config.list_id)}`);
    if (!list.ok)
      outcomes.push(
        list.status === 404
          ? { status: "fail", code: "config", message: `Mailchimp audience ${ctx.config.list_id} not found` }
          : list.outcome,
      );
  }
  return erasedOutcome(outcomes);
}

/** Checks the key (`GET /ping`) and that the audience exists (`GET /lists/{id}`). */
async function testConnection(ctx: Ctx): Promise<void> {
  for (const path of ["/ping", `/lists/${encodeURIComponent(ctx.config.list_id)}`]) {
    const r = await mailchimpRequest(ctx, "GET", path);
    if (!r.ok) throw new Error(r.outcome.status === "fail" ? r.outcome.message : r.outcome.reason);
  }
}

/** The Mailchimp destination plugin. */
export const mailchimp: DestinationPlugin<MailchimpConfig> = {
  type: "mailchimp",
  validateConfig: validateMailchimpConfig,
  secretFields: ["api_key", "webhook_secret"],
  limits: {
    upsertBatch: MAX_ITEMS,
    membershipBatch: MAX_ITEMS,
    // Mailchimp's only published limit: 10 simultaneous connections per user.
    concurrency: 10,
    // No published request rate; a backstop well above what 10 connections sustain against Mailchimp's latency.
    rate: { limit: 100, perMs: 1_000 },
  },
  testConnection,
  upsertContacts,
  applyMemberships,
  deleteContact,
};
