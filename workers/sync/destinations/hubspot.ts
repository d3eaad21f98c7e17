/**
 * HubSpot as a destination (DESIGN §7, reference/maps.md §1 and §2.1): contacts are upserted by email through
 * `batch/upsert`; each audience is a MANUAL list named `tessera_<key>`, whose membership changes by record id; a GDPR
 * delete uses HubSpot's own `gdpr-delete`.
 *
 * Every HubSpot answer goes through one classifier (`classify`): 429 throws `Throttled` for the whole destination,
 * 401/403 throw `AuthRefused`; 408, 423, 5xx and no answer at all are per-item `retry`; other 4xx are per-item `fail`.
 *
 * @example
 * const ctx = { config: { access_token: "pat-…" }, fetch, now: Date.now, store };
 * await hubspot.upsertContacts(ctx, [{ identity: { profileId: "p1", email: "ada@example.com" }, traits: { first_name: "Ada" } }]);
 * // → [{ status: "ok", vendorId: "101" }]
 */

import {
  type AudienceList,
  AuthRefused,
  type DestinationPlugin,
  type FailCode,
  type MembershipOp,
  type Outcome,
  type PluginContext,
  Redirected,
  Throttled,
} from "../plugin";
import { optionalSecretProblem, type Settings, settingsProblem } from "./config-settings";
import { erasedOutcome } from "./erased-outcome";

export interface HubSpotConfig {
  /** A private-app (or OAuth) access token with the contacts and lists scopes. */
  access_token: string;
  /** Defaults to `https://api.hubapi.com`; tests point it at the mock. */
  base_url?: string;
  /** The app's client secret, which signs the webhooks HubSpot sends (`X-HubSpot-Signature-v3`). */
  client_secret?: string;
}

const HUBSPOT_SETTINGS = { access_token: true, base_url: true, client_secret: true } satisfies Settings<HubSpotConfig>;

export type HubSpotContext = PluginContext<HubSpotConfig>;

/** Anything but `ok`: what every item of a failed call gets. */
export type Failure = Exclude<Outcome, { status: "ok" }>;

/** A HubSpot answer: its status, its JSON body, and — unless it succeeded — what it means for each item. */
export interface HubSpotReply {
  /** 0 when no answer came (timeout, connection refused). */
  status: number;
  body: Record<string, unknown>;
  failure?: Failure;
}

const DEFAULT_BASE_URL = "https://api.hubapi.com";
/** HubSpot's batch endpoints (upsert, read) take at most 100 inputs. */
const BATCH_LIMIT = 100;
/** HubSpot's documented window when a 429 arrives without its interval header. */
const TEN_SECONDS_MS = 10_000;
/** 423 Locked means concurrent writes to one record; HubSpot's guidance is to wait about two seconds. */
const LOCKED_RETRY_MS = 2_000;
const HOUR_MS = 3_600_000;
/** HubSpot's object type id for contacts. */
const CONTACTS = "0-1";

const NO_EMAIL: Outcome = { status: "skip", reason: "profile has no email" };

/**
 * The `ctx.store` key of the properties HubSpot said it lacks (`PROPERTY_DOESNT_EXIST`): later batches leave them out
 * without paying a refused call first. They are tried again after an hour, as someone may create them in HubSpot.
 */
const LACKING_PROPERTIES_KEY = "lacking-properties";
const LACKING_PROPERTIES_TTL_MS = HOUR_MS;

/** Segment trait names whose HubSpot property is named differently; every other trait keeps its name. */
const PROPERTY_NAMES: Record<string, string> = {
  first_name: "firstname",
  last_name: "lastname",
  phone: "phone",
  company: "company",
  title: "jobtitle",
  city: "city",
  country: "country",
};

export const hubspot: DestinationPlugin<HubSpotConfig> = {
  type: "hubspot",

  validateConfig(config) {
    const shape = settingsProblem(config, HUBSPOT_SETTINGS, "HubSpot");
    if (shape) return shape;
    const c = config as Record<string, unknown>;
    if (typeof c.access_token !== "string" || c.access_token.trim() === "") return "access_token: is required";
    if (c.base_url !== undefined && !isHttpUrl(c.base_url)) return "base_url: must be an http(s) URL";
    return optionalSecretProblem(c, "client_secret");
  },

  secretFields: ["access_token", "client_secret"],

  limits: {
    upsertBatch: BATCH_LIMIT,
    // Membership needs record ids, resolved through the same 100-input batch endpoints.
    membershipBatch: BATCH_LIMIT,
    // HubSpot documents no concurrency cap; a few calls in flight already reach 100 per 10 s, and fewer parallel
    // writes mean fewer 423 Locked answers.
    concurrency: 4,
    // The Free/Starter app limit (Professional/Enterprise allow 190): the lowest tier is the safe default.
    rate: { limit: 100, perMs: 10_000 },
    // The window is the portal's, every app's calls in it (maps.md §1c): HubSpot says on every answer what remains.
    remainingHeader: "X-HubSpot-RateLimit-Remaining",
  },

  async testConnection(ctx) {
    const reply = await hubspotCall(ctx, "GET", "/crm/v3/objects/contacts?limit=1");
    if (reply.failure) throw new Error(failureText(reply.failure));
  },

  async upsertContacts(ctx, items) {
    const inputs = new Map<string, Record<string, string>>();
    for (const { identity, traits } of items) {
      if (!identity.email) continue;
      // HubSpot refuses a batch that names one id twice, so two items for one email become one input.
      inputs.set(identity.email, { ...inputs.get(identity.email), ...toProperties(traits), email: identity.email });
    }
    const outcomes = await upsertByEmail(ctx, inputs);
    return items.map(({ identity }) => (identity.email ? outcomes.get(identity.email)! : NO_EMAIL));
  },

  async applyMemberships(ctx, list, items) {
    // The engine chunks to `limits`; should more arrive, they are split rather than sent past HubSpot's 100.
    const outcomes: Outcome[] = [];
    for (let i = 0; i < items.length; i += BATCH_LIMIT) {
      outcomes.push(...(await applyMembershipChunk(ctx, list, items.slice(i, i + BATCH_LIMIT))));
    }
    return outcomes;
  },

  async deleteContact(ctx, person) {
    // `gdpr-delete` takes one contact a call (HubSpot has no batch of it): each email, then each record id recorded
    // (a contact merged or renamed in HubSpot no longer answers to the email it was synced under).
    const targets = [
      ...person.emails.map((email) => ({ idProperty: "email", objectId: email })),
      ...person.vendorIds.map((id) => ({ objectId: id })),
    ];
    if (targets.length === 0) return { status: "skip", reason: "profile has no email or HubSpot record id" };
    const outcomes: Outcome[] = [];
    for (const target of targets) {
      const reply = await hubspotCall(ctx, "POST", "/crm/v3/objects/contacts/gdpr-delete", target);
      // A contact HubSpot does not have is already in the state a GDPR delete asks for.
      outcomes.push(reply.status === 404 ? { status: "ok" } : (reply.failure ?? { status: "ok" }));
    }
    return erasedOutcome(outcomes);
  },
};

// ---------- HTTP and the one classifier ----------

/**
 * One call to HubSpot. Never throws on an HTTP status or a network error (those become `failure`), except for the
 * destination-wide signals `Throttled` and `AuthRefused`.
 */
export async function hubspotCall(
  ctx: HubSpotContext,
  method: string,
  path: string,
  json?: unknown,
): Promise<HubSpotReply> {
  const base = (ctx.config.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
  let status: number;
  let headers: Headers;
  let text: string;
  try {
    const res = await ctx.fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ctx.config.access_token}`,
        accept: "application/json",
        ...(json === undefined ? {} : { "content-type": "application/json" }),
      },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    status = res.status;
    headers = res.headers;
    text = await res.text();
  } catch (err) {
    if (err instanceof Redirected) throw err; // the whole destination's address is wrong: it pauses
    // No answer says nothing about the items: they are retried.
    const reason = `HubSpot did not answer ${method} ${path.split("?")[0]}: ${err instanceof Error ? err.message : String(err)}`;
    return { status: 0, body: {}, failure: { status: "retry", reason } };
  }
  const body = parseBody(text);
  return { status, body, failure: classify(status, headers, body, ctx.now()) };
}

/** What a HubSpot status means: undefined for success, a per-item failure, or a throw for the whole destination. */
function classify(status: number, headers: Headers, body: Record<string, unknown>, now: number): Failure | undefined {
  if (status >= 200 && status < 300) return undefined;
  const message = describeError(status, body);
  if (status === 401 || status === 403) throw new AuthRefused(message);
  if (status === 429) throw new Throttled(throttleMs(headers, body, now), message);
  if (status === 423) return { status: "retry", reason: message, retryAfterMs: LOCKED_RETRY_MS };
  if (status === 408 || status >= 500) return { status: "retry", reason: message };
  return itemFailure(status, body);
}

/**
 * How long HubSpot wants the destination to wait. The rolling windows say so in their interval header (HubSpot sends
 * no Retry-After). The daily quota resets at midnight in the account's time zone, which the API does not tell us:
 * waking at each top of the hour reaches that midnight whatever the zone, for one call an hour meanwhile.
 */
function throttleMs(headers: Headers, body: Record<string, unknown>, now: number): number {
  if (body.policyName === "DAILY") return HOUR_MS - (now % HOUR_MS);
  const interval = Number(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds"));
  return interval > 0 ? interval : TEN_SECONDS_MS;
}

/** A permanent failure from an error envelope (a whole answer's, or one item's in a 207). */
function itemFailure(status: number, error: Record<string, unknown>): Failure {
  const message = describeError(status, error);
  const code: FailCode =
    status === 404 ? "not_found" : message.includes("INVALID_EMAIL") ? "invalid_identity" : "invalid_payload";
  return { status: "fail", code, message };
}

function describeError(status: number, body: Record<string, unknown>): string {
  const category = typeof body.category === "string" ? ` ${body.category}` : "";
  const message = typeof body.message === "string" ? body.message : "no message";
  return `HubSpot ${status}${category}: ${message}`;
}

function parseBody(text: string): Record<string, unknown> {
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return { message: text.slice(0, 500) };
  }
}

export function failureText(failure: Failure): string {
  return failure.status === "fail" ? failure.message : failure.reason;
}

// ---------- contacts ----------

interface HubSpotContact {
  id: string;
  properties?: Record<string, string | null>;
}

/** Upserts contacts keyed by email; the outcome for each email. */
async function upsertByEmail(
  ctx: HubSpotContext,
  inputs: Map<string, Record<string, string>>,
): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  const entries = [...inputs];
  const lacking = new Set<string>(JSON.parse((await ctx.store.get(LACKING_PROPERTIES_KEY)) ?? "[]") as string[]);
  for (let i = 0; i < entries.length; i += BATCH_LIMIT) {
    await upsertBatch(ctx, entries.slice(i, i + BATCH_LIMIT), outcomes, lacking);
  }
  return outcomes;
}

/**
 * One batch upsert. Properties HubSpot lacks (`lacking`) are left out: a property unknown to HubSpot refuses its whole
 * input, and a destination selecting one trait HubSpot has no property for would otherwise sync nobody. When HubSpot
 * names new ones, they join `lacking` (and the store) and the inputs it refused go again without them; each contact
 * that had one is `ok` with a note saying which were left out.
 */
async function upsertBatch(
  ctx: HubSpotContext,
  batch: Array<[email: string, properties: Record<string, string>]>,
  outcomes: Map<string, Outcome>,
  lacking: Set<string>,
): Promise<void> {
  if (batch.length === 0) return;
  const reply = await hubspotCall(ctx, "POST", "/crm/v3/objects/contacts/batch/upsert", {
    inputs: batch.map(([email, properties]) => ({
      idProperty: "email",
      id: email,
      properties: without(properties, lacking),
    })),
  });
  // Only a property this batch sent counts (and never the email it is keyed by), so the resend always sends less.
  const named = lackingProperties(reply.body).filter(
    (name) => name !== "email" && !lacking.has(name) && batch.some(([, properties]) => Object.hasOwn(properties, name)),
  );
  if (named.length > 0) {
    for (const name of named) lacking.add(name);
    await ctx.store.put(LACKING_PROPERTIES_KEY, JSON.stringify([...lacking]), LACKING_PROPERTIES_TTL_MS);
    // A 207 upserted the inputs it did not refuse: those are done, the others go again.
    const done = recordIdsByEmail(reply.body.results);
    for (const [email, properties] of batch) {
      const id = done.get(email);
      if (id) outcomes.set(email, upsertedOutcome(id, properties, lacking));
    }
    await upsertBatch(
      ctx,
      batch.filter(([email]) => !done.has(email)),
      outcomes,
      lacking,
    );
    return;
  }
  // HubSpot may refuse a whole batch for one invalid input without naming it (maps.md §2.1 leaves the 207 behaviour
  // unverified): halving until the bad input is alone keeps its siblings from failing with it.
  if (reply.status === 400 && batch.length > 1) {
    const half = Math.ceil(batch.length / 2);
    await upsertBatch(ctx, batch.slice(0, half), outcomes, lacking);
    await upsertBatch(ctx, batch.slice(half), outcomes, lacking);
    return;
  }
  if (reply.failure) {
    for (const [email] of batch) outcomes.set(email, reply.failure);
    return;
  }
  const ids = recordIdsByEmail(reply.body.results);
  const errors = errorsById(reply.body.errors);
  for (const [email, properties] of batch) {
    const id = ids.get(email);
    outcomes.set(
      email,
      id
        ? upsertedOutcome(id, properties, lacking)
        : (errors.get(email) ?? { status: "retry", reason: "HubSpot's answer did not mention this contact" }),
    );
  }
}

/** An upserted contact's outcome, noting the properties it was sent without because HubSpot lacks them. */
function upsertedOutcome(id: string, properties: Record<string, string>, lacking: Set<string>): Outcome {
  const left = Object.keys(properties).filter((name) => lacking.has(name));
  if (left.length === 0) return { status: "ok", vendorId: id };
  const note =
    left.length === 1
      ? `HubSpot has no property ${left[0]}: left out (create the property in HubSpot to sync it)`
      : `HubSpot has no properties ${left.join(", ")}: left out (create the properties in HubSpot to sync them)`;
  return { status: "ok", vendorId: id, note };
}

function without(properties: Record<string, string>, lacking: Set<string>): Record<string, string> {
  if (lacking.size === 0) return properties;
  return Object.fromEntries(Object.entries(properties).filter(([name]) => !lacking.has(name)));
}

/**
 * The properties a HubSpot error says do not exist: in the JSON list its message carries (`Property values were not
 * valid: [{"error":"PROPERTY_DOESNT_EXIST","name":"…"}]`, maps.md §2.1, as Segment's `hubspot/errors.ts` parses it),
 * or in its `errors[]` details (`code: "PROPERTY_DOESNT_EXIST"`, `context.propertyName`); for a 207, in each item's.
 */
function lackingProperties(body: Record<string, unknown>): string[] {
  const names = new Set<string>();
  const details = Array.isArray(body.errors) ? (body.errors as unknown[]) : [];
  for (const error of [body, ...details]) {
    if (typeof error !== "object" || error === null) continue;
    const { code, context, message } = error as {
      code?: unknown;
      context?: { propertyName?: unknown };
      message?: unknown;
    };
    if (code === "PROPERTY_DOESNT_EXIST" && Array.isArray(context?.propertyName)) {
      for (const name of context.propertyName) names.add(String(name));
    }
    for (const problem of problemsIn(message)) {
      if (problem.error === "PROPERTY_DOESNT_EXIST" && typeof problem.name === "string") names.add(problem.name);
    }
  }
  return [...names];
}

/** The JSON list of property problems a VALIDATION_ERROR message ends with; none when it has no such list. */
function problemsIn(message: unknown): Array<Record<string, unknown>> {
  if (typeof message !== "string") return [];
  const start = message.indexOf("[");
  if (start < 0) return [];
  try {
    const parsed: unknown = JSON.parse(message.slice(start));
    return Array.isArray(parsed)
      ? parsed.filter((p): p is Record<string, unknown> => typeof p === "object" && p !== null)
      : [];
  } catch {
    return [];
  }
}

/** Reads contacts by email: the record id of each one HubSpot has (absent ones are simply not in the map). */
async function readByEmail(ctx: HubSpotContext, emails: string[]): Promise<Map<string, string> | Failure> {
  const ids = new Map<string, string>();
  for (let i = 0; i < emails.length; i += BATCH_LIMIT) {
    const reply = await hubspotCall(ctx, "POST", "/crm/v3/objects/contacts/batch/read", {
      idProperty: "email",
      properties: ["email", "hs_additional_emails"],
      inputs: emails.slice(i, i + BATCH_LIMIT).map((id) => ({ id })),
    });
    // Emails HubSpot does not know come back as a 207 OBJECT_NOT_FOUND error: that is an answer, not a failure.
    if (reply.failure) return reply.failure;
    for (const [email, id] of recordIdsByEmail(reply.body.results)) ids.set(email, id);
  }
  return ids;
}

/** Record ids by every email a returned contact answers to (HubSpot matches `hs_additional_emails` too). */
function recordIdsByEmail(results: unknown): Map<string, string> {
  const ids = new Map<string, string>();
  for (const contact of Array.isArray(results) ? (results as HubSpotContact[]) : []) {
    const { email, hs_additional_emails } = contact.properties ?? {};
    for (const address of [email, ...(hs_additional_emails ?? "").split(";")]) {
      if (address) ids.set(address.trim().toLowerCase(), String(contact.id));
    }
  }
  return ids;
}

/** Per-item errors of a 207, by the input id (email) each one names in `context.ids`. */
function errorsById(errors: unknown): Map<string, Failure> {
  const byId = new Map<string, Failure>();
  for (const error of Array.isArray(errors) ? (errors as Array<Record<string, unknown>>) : []) {
    const ids = (error.context as { ids?: unknown } | undefined)?.ids;
    for (const id of Array.isArray(ids) ? ids : []) byId.set(String(id).toLowerCase(), itemFailure(400, error));
  }
  return byId;
}

/** Traits as HubSpot properties: HubSpot stores strings, so lists are `;`-joined and objects JSON. */
function toProperties(traits: Record<string, unknown>): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [name, value] of Object.entries(traits)) {
    if (value === undefined) continue;
    properties[PROPERTY_NAMES[name] ?? name] = Array.isArray(value)
      ? value.map(propertyValue).join(";")
      : propertyValue(value);
  }
  return properties;
}

function propertyValue(value: unknown): string {
  // An empty string is how HubSpot clears a property, which is what a null trait means.
  if (value === null) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

// ---------- lists and membership ----------

/**
 * One chunk of membership changes. Record ids come from the engine (`vendorId`) or are resolved by email: an add
 * upserts the contact (it must exist to join a list), a remove only reads it (a contact HubSpot lacks is on no list).
 */
async function applyMembershipChunk(
  ctx: HubSpotContext,
  list: AudienceList,
  items: MembershipOp[],
): Promise<Outcome[]> {
  const outcomes: Array<Outcome | undefined> = items.map(({ identity }) =>
    identity.vendorId || identity.email ? undefined : NO_EMAIL,
  );
  const ids = new Map<number, string>();
  const unresolved: number[] = [];
  items.forEach(({ identity }, i) => {
    if (identity.vendorId) ids.set(i, identity.vendorId);
    else if (identity.email) unresolved.push(i);
  });
  await resolveRecordIds(ctx, items, unresolved, ids, outcomes);
  let missing = await changeMembership(ctx, list, items, [...items.keys()], ids, outcomes);

  // A remembered record id goes stale when HubSpot merges or deletes the contact: look those up by email once more.
  const stale = missing.filter((i) => items[i].identity.vendorId && items[i].identity.email);
  if (stale.length > 0) {
    for (const i of stale) ids.delete(i);
    await resolveRecordIds(ctx, items, stale, ids, outcomes);
    const again = await changeMembership(ctx, list, items, stale, ids, outcomes);
    missing = [...missing.filter((i) => !stale.includes(i)), ...again];
  }

  for (const i of missing) outcomes[i] = missingRecordOutcome(items[i], ids.get(i)!);
  // Every item has an outcome by now; the fallback only keeps a future slip from reaching the engine as undefined.
  return outcomes.map((outcome) => outcome ?? { status: "retry", reason: "no HubSpot record id was found" });
}

/**
 * A record id HubSpot reports missing. A removal is done (no record is on no list). An add whose id was just looked
 * up by email lost a race with a delete or merge, and the next attempt looks it up again (`retry`); without an email
 * there is nothing to look up, so it fails as `not_found`.
 */
function missingRecordOutcome(item: MembershipOp, id: string): Outcome {
  if (!item.member) return { status: "ok" };
  if (item.identity.email)
    return { status: "retry", reason: `HubSpot record ${id} disappeared before joining the list` };
  return { status: "fail", code: "not_found", message: `HubSpot has no record ${id} and the profile has no email` };
}

async function resolveRecordIds(
  ctx: HubSpotContext,
  items: MembershipOp[],
  indexes: number[],
  ids: Map<number, string>,
  outcomes: Array<Outcome | undefined>,
): Promise<void> {
  const adds = indexes.filter((i) => items[i].member);
  const removes = indexes.filter((i) => !items[i].member);
  if (adds.length > 0) {
    const emails = adds.map((i) => items[i].identity.email!);
    const upserted = await upsertByEmail(ctx, new Map(emails.map((email) => [email, { email }])));
    for (const i of adds) {
      const outcome = upserted.get(items[i].identity.email!)!;
      if (outcome.status === "ok" && outcome.vendorId) ids.set(i, outcome.vendorId);
      else outcomes[i] = outcome;
    }
  }
  if (removes.length > 0) {
    const found = await readByEmail(ctx, [...new Set(removes.map((i) => items[i].identity.email!))]);
    for (const i of removes) {
      const id = found instanceof Map ? found.get(items[i].identity.email!) : undefined;
      if (id) ids.set(i, id);
      else outcomes[i] = found instanceof Map ? { status: "ok" } : found;
    }
  }
}

/**
 * Sends the adds and removes of `indexes` that have a record id and no outcome yet, in one add-and-remove call.
 * Sets `ok` on those HubSpot applied and returns the indexes whose record id it reported missing.
 */
async function changeMembership(
  ctx: HubSpotContext,
  list: AudienceList,
  items: MembershipOp[],
  indexes: number[],
  ids: Map<number, string>,
  outcomes: Array<Outcome | undefined>,
): Promise<number[]> {
  const sent = indexes.filter((i) => outcomes[i] === undefined && ids.has(i));
  if (sent.length === 0) return [];
  const idsWhere = (member: boolean) => [
    ...new Set(sent.filter((i) => items[i].member === member).map((i) => ids.get(i)!)),
  ];
  const answer = await putMembership(ctx, list.name, {
    recordIdsToAdd: idsWhere(true),
    recordIdsToRemove: idsWhere(false),
  });
  if (!(answer instanceof Set)) {
    for (const i of sent) outcomes[i] = answer;
    return [];
  }
  const missing: number[] = [];
  for (const i of sent) {
    if (answer.has(ids.get(i)!)) missing.push(i);
    else outcomes[i] = { status: "ok", vendorId: ids.get(i) };
  }
  return missing;
}

/** `PUT …/memberships/add-and-remove` on the named list: the record ids HubSpot reports missing, or the failure. */
async function putMembership(
  ctx: HubSpotContext,
  listName: string,
  change: { recordIdsToAdd: string[]; recordIdsToRemove: string[] },
): Promise<Set<string> | Failure> {
  const put = (listId: string) =>
    hubspotCall(ctx, "PUT", `/crm/v3/lists/${encodeURIComponent(listId)}/memberships/add-and-remove`, change);
  let list = await findOrCreateList(ctx, listName, true);
  if ("status" in list) return list;
  let reply = await put(list.listId);
  // A remembered list id goes stale when someone deletes the list in HubSpot: find (or create) it again, once.
  if (reply.status === 404 && list.cached) {
    list = await findOrCreateList(ctx, listName, false);
    if ("status" in list) return list;
    reply = await put(list.listId);
  }
  if (reply.failure) return reply.failure;
  const missing = reply.body.recordIdsMissing;
  return new Set(Array.isArray(missing) ? missing.map(String) : []);
}

/**
 * The id of the MANUAL contact list with this name: remembered in `ctx.store`, else found by name, else created.
 * When another worker creates it between our read and our create, HubSpot answers `ILS.DUPLICATE_LIST_NAMES` and the
 * list is read again.
 */
async function findOrCreateList(
  ctx: HubSpotContext,
  name: string,
  useStore: boolean,
): Promise<{ listId: string; cached: boolean } | Failure> {
  const key = `list:${name}`;
  const remembered = useStore ? await ctx.store.get(key) : undefined;
  if (remembered) return { listId: remembered, cached: true };

  let found = await readList(ctx, name);
  if (found === undefined) {
    const created = await hubspotCall(ctx, "POST", "/crm/v3/lists", {
      name,
      objectTypeId: CONTACTS,
      processingType: "MANUAL",
    });
    if (created.body.subCategory === "ILS.DUPLICATE_LIST_NAMES") found = await readList(ctx, name);
    else found = created.failure ?? listOf(created.body);
  }
  if (found === undefined) return { status: "retry", reason: `HubSpot reported list ${name} as existing, then not` };
  if ("status" in found) return found;
  if (found.processingType !== "MANUAL" && found.processingType !== "SNAPSHOT") {
    const message = `HubSpot list ${name} is ${found.processingType}; only a MANUAL list can take members from Tessera`;
    return { status: "fail", code: "config", message };
  }
  await ctx.store.put(key, found.listId);
  return { listId: found.listId, cached: false };
}

interface HubSpotList {
  listId: string;
  processingType: string;
}

/** The contact list with this name, undefined when HubSpot has none, or the failure. */
async function readList(ctx: HubSpotContext, name: string): Promise<HubSpotList | Failure | undefined> {
  const reply = await hubspotCall(
    ctx,
    "GET",
    `/crm/v3/lists/object-type-id/${CONTACTS}/name/${encodeURIComponent(name)}`,
  );
  if (reply.status === 404) return undefined;
  return reply.failure ?? listOf(reply.body);
}

function listOf(body: Record<string, unknown>): HubSpotList | Failure {
  const list = body.list as { listId?: unknown; processingType?: unknown } | undefined;
  if (list?.listId === undefined) return { status: "retry", reason: "HubSpot answered without the list" };
  return { listId: String(list.listId), processingType: String(list.processingType) };
}

// ---------- small helpers ----------

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    const { protocol } = new URL(value);
    return protocol === "https:" || protocol === "http:";
  } catch {
    return false;
  }
}
