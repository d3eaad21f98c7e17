/**
 * A local Mailchimp Marketing API v3 (reference/maps.md §2.2) on the shared mock frame (`mock-vendor.ts`), under
 * `/3.0` like the real host, so a plugin's `base_url` is `${mock.url}/3.0`. It models what Tessera relies on:
 *
 * - Basic auth `anystring:<api key>` (or Bearer), 401 otherwise; errors as Mailchimp's problem+json envelope;
 * - one audience whose members are keyed by MD5 of the lowercased email; batch subscribe (`POST /lists/{id}`, ≤ 500)
 *   with `new_members` / `updated_members` / per-item `errors[]` and HTTP 200; unsubscribed and cleaned members
 *   cannot be subscribed again ("compliance state"); permanently deleted addresses cannot be re-imported;
 *   required merge fields; merge tags the audience does not define are dropped [M];
 * - `PATCH` and `GET` of a member, `delete-permanent`;
 * - static segments: list (paged), create, batch add/remove (≤ 500 each);
 * - sent campaigns and their email activity (`GET /campaigns`, `GET /reports/{id}/email-activity`), seeded by
 *   `addCampaign` / `addActivity`;
 * - the 10-simultaneous-connection limit (the 11th concurrent request gets Mailchimp's 429, no `Retry-After`), with
 *   `hold()` to keep requests in flight deterministically, and an optional request-rate emulator;
 * - `emitWebhook` / `checkWebhook`: Mailchimp's form-encoded audience webhooks and its GET URL check.
 *
 * Not modelled: the datacenter check of the host (every mock is 127.0.0.1), `PUT` members, tags, interests.
 *
 * @example
 * const mc = await startMockMailchimp({ requiredMergeFields: ["FNAME"] });
 * const config = { api_key: mc.apiKey, list_id: mc.listId, base_url: `${mc.url}/3.0` };
 * mc.member("ada@x.io")?.status; // after an upsert: "subscribed"
 */
import { createHash, randomUUID } from "node:crypto";
import type { Context, Hono } from "hono";
import { type MockServerOptions, type MockVendor, SlidingWindowLimiter, startMockVendor } from "./mock-vendor";

export type MemberStatus = "subscribed" | "unsubscribed" | "cleaned" | "pending" | "transactional" | "archived";

export interface MockMember {
  id: string;
  email_address: string;
  unique_email_id: string;
  contact_id: string;
  web_id: number;
  email_type: "html";
  status: MemberStatus;
  merge_fields: Record<string, unknown>;
  list_id: string;
  timestamp_signup: string;
  last_changed: string;
  tags_count: number;
  tags: Array<{ id: number; name: string }>;
}

export interface MockActivity {
  action: "open" | "click" | "bounce";
  /** Mailchimp's format: `2026-03-26T21:40:57+00:00`. */
  timestamp: string;
  type?: "hard" | "soft";
  url?: string;
  ip?: string;
}

export interface MockMailchimpOptions extends MockServerOptions {
  /** Default `0123456789abcdef0123456789abcdef-us21`. */
  apiKey?: string;
  /** The audience's id (default `a6b5da1054`). */
  listId?: string;
  /** Merge tags the audience defines (default Mailchimp's own: FNAME, LNAME, ADDRESS, PHONE, BIRTHDAY). */
  mergeFields?: string[];
  /** Merge tags a new member must have (Mailchimp's per-field `required`). */
  requiredMergeFields?: string[];
  /** Simultaneous connections per user (Mailchimp: 10). */
  maxConnections?: number;
  /** A request-rate limit on top (Mailchimp publishes none; off by default). */
  rateLimit?: { limit: number; windowMs: number };
}

export interface MockMailchimp extends MockVendor {
  apiKey: string;
  listId: string;
  limiter: SlidingWindowLimiter;
  member(email: string): MockMember | undefined;
  /** Every member of the audience, in the order they were added. */
  members(): MockMember[];
  addMember(email: string, seed?: { status?: MemberStatus; merge_fields?: Record<string, unknown> }): MockMember;
  /** The emails in the static segment of that name, sorted; undefined when there is no such segment. */
  segmentMembers(name: string): string[] | undefined;
  /** Names of all segments, in creation order (duplicates are possible, as in Mailchimp). */
  segmentNames(): string[];
  addSegment(name: string): number;
  addCampaign(id: string, sendTime: string): void;
  /** Records activity of `email` on a campaign (created, sent now, if unknown). */
  addActivity(campaignId: string, email: string, activity: MockActivity): void;
  /** Keeps every request that passes the limits in flight until the returned function is called. */
  hold(): () => void;
  /** Posts an audience webhook to `url` as Mailchimp does: form-encoded fields, no signature. */
  emitWebhook(url: string, fields: Record<string, string>): Promise<Response>;
  /** Mailchimp's GET check of a webhook URL when it is saved (it needs a 200). */
  checkWebhook(url: string): Promise<Response>;
}

/** The form fields of an audience webhook: `type`, `fired_at` and `data[…]`. */
export function webhookFields(type: string, firedAt: string, data: Record<string, string>): Record<string, string> {
  const fields: Record<string, string> = { type, fired_at: firedAt };
  for (const [key, value] of Object.entries(data)) fields[`data[${key}]`] = value;
  return fields;
}

const PROBLEM_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/";
const STATUSES: readonly string[] = ["subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const md5 = (text: string) => createHash("md5").update(text).digest("hex");
const hashOf = (email: string) => md5(email.trim().toLowerCase());
const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, "+00:00");

interface Segment {
  id: number;
  name: string;
  members: Set<string>;
  created_at: string;
  updated_at: string;
}

interface Campaign {
  id: string;
  send_time: string;
  activity: Map<string, MockActivity[]>;
}

/** Starts the mock on a free port. */
export async function startMockMailchimp(options: MockMailchimpOptions = {}): Promise<MockMailchimp> {
  const apiKey = options.apiKey ?? "0123456789abcdef0123456789abcdef-us21";
  const listId = options.listId ?? "a6b5da1054";
  const defined = new Set(options.mergeFields ?? ["FNAME", "LNAME", "ADDRESS", "PHONE", "BIRTHDAY"]);
  const required = options.requiredMergeFields ?? [];
  for (const tag of required) defined.add(tag);
  const maxConnections = options.maxConnections ?? 10;
  const limiter = new SlidingWindowLimiter(options.rateLimit?.limit ?? 1, options.rateLimit?.windowMs ?? 1000);
  limiter.enabled = options.rateLimit !== undefined;

  const members = new Map<string, MockMember>();
  const forgotten = new Set<string>();
  const segments: Segment[] = [];
  const campaigns = new Map<string, Campaign>();
  let nextId = 1;
  let inFlight = 0;
  let gate: Promise<void> = Promise.resolve();
  let release = () => {};

  const createMember = (email: string, status: MemberStatus, fields: Record<string, unknown>): MockMember => {
    const hash = hashOf(email);
    const member: MockMember = {
      id: hash,
      email_address: email,
      unique_email_id: hash.slice(0, 10),
      contact_id: hash,
      web_id: nextId++,
      email_type: "html",
      status,
      merge_fields: definedOnly(fields),
      list_id: listId,
      timestamp_signup: nowIso(),
      last_changed: nowIso(),
      tags_count: 0,
      tags: [],
    };
    members.set(hash, member);
    return member;
  };
  // Mailchimp drops merge tags the audience does not define rather than refusing the member [M].
  const definedOnly = (fields: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(fields ?? {}).filter(([tag]) => defined.has(tag)));
  const complianceRefusal = (member: MockMember, status: unknown) =>
    status === "subscribed" && (member.status === "unsubscribed" || member.status === "cleaned")
      ? `${member.email_address} is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.`
      : undefined;

  const routes = (app: Hono) => {
    app.use("/3.0/*", async (c, next) => {
      if (apiKeyOf(c.req.header("authorization")) !== apiKey) {
        return problem(
          401,
          "API Key Invalid",
          "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        );
      }
      if (inFlight >= maxConnections) {
        return problem(429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.");
      }
      if (!limiter.take(apiKey).allowed) {
        return problem(429, "Too Many Requests", "You have exceeded the rate limit for this account.");
      }
      inFlight++;
      try {
        await gate;
        await next();
      } finally {
        inFlight--;
      }
    });

    app.get("/3.0/ping", (c) => c.json({ health_status: "Everything's Chimpy!" }));

    // Routes under `/3.0/lists/{list_id}`: any other audience is a 404, as in Mailchimp.
    const list = (method: string, path: string, handler: (c: Context) => Response | Promise<Response>) =>
      app.on(method, `/3.0/lists/:list${path}`, (c) => (c.req.param("list") === listId ? handler(c) : notFound()));
    list("GET", "", (c) =>
      c.json({ id: listId, name: "Tessera test audience", stats: { member_count: members.size } }),
    );

    list("POST", "", async (c) => {
      const body = await jsonBody(c);
      if (!body) return parseProblem();
      const batch = body.members;
      if (!Array.isArray(batch)) return invalid([{ field: "members", message: "This value should not be blank." }]);
      if (batch.length > 500)
        return invalid([{ field: "members", message: "Schema describes array with at most 500 items" }]);
      const updateExisting = body.update_existing === true;
      const skipValidation = c.req.query("skip_merge_validation") === "true";
      const created: MockMember[] = [];
      const updated: MockMember[] = [];
      const errors: Array<Record<string, string>> = [];
      const refuse = (email: string, error: string, more: Record<string, string> = {}) =>
        errors.push({ email_address: email, error, error_code: "ERROR_GENERIC", ...more });
      for (const m of batch as Array<Record<string, unknown>>) {
        const email = String(m.email_address ?? "");
        const fields = (m.merge_fields ?? {}) as Record<string, unknown>;
        const existing = members.get(hashOf(email));
        if (!EMAIL.test(email)) {
          const message = `${email} looks fake or invalid, please enter a real email address.`;
          refuse(email, message, { field: "email_address", field_message: message });
        } else if (forgotten.has(hashOf(email))) {
          refuse(
            email,
            `${email} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.`,
          );
        } else if (!STATUSES.includes(String(m.status))) {
          refuse(email, `Invalid status "${String(m.status)}"`, {
            field: "status",
            field_message: "Schema describes enum",
          });
        } else if (existing && !updateExisting) {
          refuse(email, `${email} is already a list member. Use PUT to insert or update list members.`, {
            error_code: "ERROR_CONTACT_EXISTS",
          });
        } else if (existing) {
          const refusal = complianceRefusal(existing, m.status);
          if (refusal) refuse(email, refusal);
          else {
            Object.assign(existing.merge_fields, definedOnly(fields));
            existing.status = m.status as MemberStatus;
            existing.last_changed = nowIso();
            updated.push(existing);
          }
        } else {
          const missing = skipValidation ? undefined : required.find((tag) => !fields[tag]);
          if (missing)
            refuse(email, `${missing}: Please enter a value`, {
              field: missing,
              field_message: "Please enter a value",
            });
          else created.push(createMember(email, m.status as MemberStatus, fields));
        }
      }
      return c.json({
        new_members: created,
        updated_members: updated,
        errors,
        total_created: created.length,
        total_updated: updated.length,
        error_count: errors.length,
      });
    });

    list("GET", "/members/:hash", (c) => {
      const member = members.get(c.req.param("hash") ?? "");
      return member ? c.json(member) : notFound();
    });

    list("PATCH", "/members/:hash", async (c) => {
      const member = members.get(c.req.param("hash") ?? "");
      if (!member) return notFound();
      const body = await jsonBody(c);
      if (!body) return parseProblem();
      if (body.status !== undefined) {
        const refusal = complianceRefusal(member, body.status);
        if (refusal) return problem(400, "Member In Compliance State", refusal);
        member.status = body.status as MemberStatus;
      }
      Object.assign(member.merge_fields, definedOnly((body.merge_fields ?? {}) as Record<string, unknown>));
      member.last_changed = nowIso();
      return c.json(member);
    });

    list("POST", "/members/:hash/actions/delete-permanent", (c) => {
      const hash = c.req.param("hash") ?? "";
      if (!members.delete(hash)) return notFound();
      forgotten.add(hash);
      for (const segment of segments) segment.members.delete(hash);
      return c.body(null, 204);
    });

    list("GET", "/segments", (c) => {
      const type = c.req.query("type");
      const all = type && type !== "static" ? [] : segments;
      return c.json({ segments: page(c, all).map(segmentView), list_id: listId, total_items: all.length });
    });

    list("POST", "/segments", async (c) => {
      const body = await jsonBody(c);
      if (!body) return parseProblem();
      if (typeof body.name !== "string" || body.name === "") {
        return invalid([{ field: "name", message: "This value should not be blank." }]);
      }
      const segment = newSegment(body.name);
      for (const email of (body.static_segment ?? []) as string[]) {
        if (members.has(hashOf(email))) segment.members.add(hashOf(email));
      }
      return c.json(segmentView(segment));
    });

    list("POST", "/segments/:id", async (c) => {
      const segment = segments.find((s) => String(s.id) === c.req.param("id"));
      if (!segment) return notFound();
      const body = await jsonBody(c);
      if (!body) return parseProblem();
      const toAdd = (body.members_to_add ?? []) as string[];
      const toRemove = (body.members_to_remove ?? []) as string[];
      if (toAdd.length > 500 || toRemove.length > 500) {
        return invalid([{ field: "members_to_add", message: "Schema describes array with at most 500 items" }]);
      }
      const added: MockMember[] = [];
      const removed: MockMember[] = [];
      const notOnList = { add: [] as string[], remove: [] as string[] };
      for (const email of toAdd) {
        const member = members.get(hashOf(email));
        if (!member) notOnList.add.push(email);
        else if (!segment.members.has(member.id)) {
          segment.members.add(member.id);
          added.push(member);
        }
      }
      for (const email of toRemove) {
        const member = members.get(hashOf(email));
        if (!member) notOnList.remove.push(email);
        else if (segment.members.delete(member.id)) removed.push(member);
      }
      // [M] wording; Mailchimp reports addresses it could not handle, grouped, beside the 200.
      const errors = [notOnList.add, notOnList.remove]
        .filter((emails) => emails.length > 0)
        .map((emails) => ({ email_addresses: emails, error: "Email addresses do not belong to this audience" }));
      segment.updated_at = nowIso();
      return c.json({
        members_added: added,
        members_removed: removed,
        errors,
        total_added: added.length,
        total_removed: removed.length,
        error_count: errors.reduce((n, e) => n + e.email_addresses.length, 0),
      });
    });

    app.get("/3.0/campaigns", (c) => {
      const since = Date.parse(c.req.query("since_send_time") ?? "");
      const wanted = c.req.query("list_id");
      const status = c.req.query("status");
      const all = [...campaigns.values()].filter(
        (k) =>
          (!wanted || wanted === listId) &&
          (!status || status === "sent") &&
          (Number.isNaN(since) || Date.parse(k.send_time) > since),
      );
      const view = (k: Campaign) => ({
        id: k.id,
        type: "regular",
        status: "sent",
        send_time: k.send_time,
        recipients: { list_id: listId },
      });
      return c.json({ campaigns: page(c, all).map(view), total_items: all.length });
    });

    app.get("/3.0/reports/:campaign/email-activity", (c) => {
      const campaign = campaigns.get(c.req.param("campaign"));
      if (!campaign) return notFound();
      const since = Date.parse(c.req.query("since") ?? "");
      const all = [...campaign.activity].flatMap(([email, activity]) => {
        // `since`: "activity events that occur after a specific time".
        const after = activity.filter((a) => Number.isNaN(since) || Date.parse(a.timestamp) > since);
        if (after.length === 0) return [];
        const view = { campaign_id: campaign.id, list_id: listId, list_is_active: true, email_id: hashOf(email) };
        return [{ ...view, email_address: email, activity: after }];
      });
      return c.json({ emails: page(c, all), campaign_id: campaign.id, total_items: all.length });
    });
  };

  const newSegment = (name: string): Segment => {
    const segment = {
      id: 1000 + nextId++,
      name,
      members: new Set<string>(),
      created_at: nowIso(),
      updated_at: nowIso(),
    };
    segments.push(segment);
    return segment;
  };
  const segmentView = (s: Segment) => ({
    id: s.id,
    name: s.name,
    member_count: s.members.size,
    type: "static",
    created_at: s.created_at,
    updated_at: s.updated_at,
    list_id: listId,
  });

  const mock = await startMockVendor(
    routes,
    () => {
      members.clear();
      forgotten.clear();
      segments.length = 0;
      campaigns.clear();
      limiter.reset();
      release();
    },
    options,
  );

  const addCampaign = (id: string, sendTime: string) => {
    if (!campaigns.has(id)) campaigns.set(id, { id, send_time: sendTime, activity: new Map() });
  };

  return Object.assign(mock, {
    apiKey,
    listId,
    limiter,
    member: (email: string) => members.get(hashOf(email)),
    members: () => [...members.values()],
    addMember: (email: string, seed: { status?: MemberStatus; merge_fields?: Record<string, unknown> } = {}) =>
      createMember(email, seed.status ?? "subscribed", seed.merge_fields ?? {}),
    segmentMembers(name: string) {
      const segment = segments.find((s) => s.name === name);
      if (!segment) return undefined;
      return [...segment.members].map((hash) => members.get(hash)?.email_address ?? hash).sort();
    },
    segmentNames: () => segments.map((s) => s.name),
    addSegment: (name: string) => newSegment(name).id,
    addCampaign,
    addActivity(campaignId: string, email: string, activity: MockActivity) {
      addCampaign(campaignId, nowIso());
      const log = campaigns.get(campaignId)?.activity;
      log?.set(email, [...(log.get(email) ?? []), activity]);
    },
    hold() {
      gate = new Promise<void>((resolve) => {
        release = () => {
          resolve();
          gate = Promise.resolve();
        };
      });
      return () => release();
    },
    emitWebhook: (url: string, fields: Record<string, string>) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": "MailChimp" },
        body: new URLSearchParams(fields).toString(),
      }),
    checkWebhook: (url: string) =>
      fetch(url, { method: "GET", headers: { "user-agent": "MailChimp.com WebHook Validator" } }),
  });
}

/** The API key of `Basic base64(anything:key)` or `Bearer key`. */
function apiKeyOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value = ""] = header.split(" ", 2);
  if (scheme.toLowerCase() === "bearer") return value;
  if (scheme.toLowerCase() !== "basic") return undefined;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

function problem(status: number, title: string, detail: string, errors?: Array<{ field: string; message: string }>) {
  const body = { type: PROBLEM_TYPE, title, status, detail, instance: randomUUID(), ...(errors ? { errors } : {}) };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json; charset=utf-8" },
  });
}

const notFound = () => problem(404, "Resource Not Found", "The requested resource could not be found.");
const parseProblem = () => problem(400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.");
const invalid = (errors: Array<{ field: string; message: string }>) =>
  problem(
    400,
    "Invalid Resource",
    "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
    errors,
  );

async function jsonBody(c: Context): Promise<Record<string, unknown> | undefined> {
  const text = await c.req.text();
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Mailchimp paging: `count` (default 10, at most 1,000) from `offset`. */
function page<T>(c: Context, all: T[]): T[] {
  const count = Math.min(Number(c.req.query("count") ?? 10) || 10, 1000);
  const offset = Number(c.req.query("offset") ?? 0) || 0;
  return all.slice(offset, offset + count);
}
