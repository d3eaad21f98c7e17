/**
 * A faithful local HubSpot (reference/maps.md §2.1) on the mock-vendor frame: bearer auth and HubSpot's error
 * envelope; contacts unique by email (case-insensitive, `hs_additional_emails` included); batch upsert and read;
 * MANUAL lists by name with membership add/remove/add-and-remove; GDPR delete; the legacy email events feed; the
 * ten-secondly (and optional daily) rate limit per token with HubSpot's headers; and a webhook emitter that signs
 * like HubSpot (v3, plus the legacy v1 header).
 *
 * One account (portal) per mock; rate limits are kept per token.
 *
 * @example
 * const hs = await startMockHubSpot({ rateLimit: { limit: 5, windowMs: 300 } });
 * // plugin config: { access_token: hs.token, base_url: hs.url }
 * hs.contacts(); hs.listMembers("tessera_vip"); hs.addEmailEvents([{ type: "OPEN", recipient: "a@b.com", created }]);
 * await hs.stop();
 */
import { createHash, createHmac, randomUUID } from "node:crypto";
import type { Context } from "hono";
import { type MockServerOptions, type MockVendor, SlidingWindowLimiter, startMockVendor } from "./mock-vendor";

export interface MockHubSpotOptions extends MockServerOptions {
  /** Bearer tokens the mock accepts; default `["hs-test-token"]`. */
  tokens?: string[];
  /** Calls per rolling window per token; default HubSpot's 100 per 10 s. `false` turns the emulator off. */
  rateLimit?: { limit: number; windowMs: number } | false;
  /** A daily quota per token (private apps): past it, 429 with `policyName: "DAILY"`. Off by default. */
  dailyLimit?: number;
  /** Custom contact properties the portal has besides HubSpot's defaults (others are PROPERTY_DOESNT_EXIST). */
  customProperties?: string[];
  /**
   * How batch upsert reports invalid inputs: `"207"` lists them in `errors[]` beside the other results (default);
   * `"400"` refuses the whole batch without naming the input. HubSpot's exact behaviour is unverified (maps.md §2.1).
   */
  batchErrors?: "207" | "400";
  /** The most email events one page holds, whatever `limit` asks (HubSpot's own cap is 1000). */
  eventsPageSize?: number;
  portalId?: number;
}

export interface MockContact {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}

export interface MockEmailEvent {
  id: string;
  created: number;
  type: string;
  recipient: string;
  portalId: number;
  appId: number;
  emailCampaignId: number;
  [field: string]: unknown;
}

export interface MockWebhookEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: string;
  attemptNumber: number;
  objectId: number;
  changeSource: string;
  propertyName?: string;
  propertyValue?: string;
  [field: string]: unknown;
}

export interface MockHubSpot extends MockVendor {
  /** The first accepted token. */
  token: string;
  /** The ten-second rolling window (its limit and length can be changed while running). */
  limiter: SlidingWindowLimiter;
  contacts(): MockContact[];
  /** The names of the portal's lists, in creation order. */
  listNames(): string[];
  /** Emails of the members of the list with this name, sorted. */
  listMembers(name: string): string[];
  /** Seeds the email events feed; missing fields get defaults (id, portalId, appId, emailCampaignId). */
  addEmailEvents(
    events: Array<Partial<MockEmailEvent> & Pick<MockEmailEvent, "type" | "recipient" | "created">>,
  ): MockEmailEvent[];
  /**
   * POSTs `events` to `targetUrl` as HubSpot delivers webhooks: a JSON array, signed with the app's client secret.
   * `timestamp` (ms) defaults to now.
   */
  emitWebhook(
    targetUrl: string,
    events: Array<Partial<MockWebhookEvent>>,
    clientSecret: string,
    options?: { timestamp?: number },
  ): Promise<Response>;
}

const DEFAULT_PROPERTIES = [
  "email",
  "firstname",
  "lastname",
  "phone",
  "company",
  "jobtitle",
  "city",
  "state",
  "zip",
  "country",
  "website",
  "lifecyclestage",
  "hs_additional_emails",
];
/** Close to HubSpot's own check: one @, no spaces, a dotted domain with a two-letter-or-longer TLD. */
const VALID_EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@.]{2,}$/;
const LIST_PROCESSING_TYPES = ["MANUAL", "SNAPSHOT", "DYNAMIC"];

interface MockList {
  listId: string;
  name: string;
  objectTypeId: string;
  processingType: string;
  members: Set<string>;
  createdAt: string;
  updatedAt: string;
}

interface PropertyProblem {
  isValid: false;
  message: string;
  error: string;
  name: string;
}

/** Starts the mock on a free port. */
export async function startMockHubSpot(options: MockHubSpotOptions = {}): Promise<MockHubSpot> {
  const tokens = new Set(options.tokens ?? ["hs-test-token"]);
  const window = options.rateLimit === false ? undefined : (options.rateLimit ?? { limit: 100, windowMs: 10_000 });
  const limiter = new SlidingWindowLimiter(window?.limit ?? 100, window?.windowMs ?? 10_000);
  limiter.enabled = window !== undefined;
  const known = new Set([...DEFAULT_PROPERTIES, ...(options.customProperties ?? [])]);
  const portalId = options.portalId ?? 62515;

  const contacts = new Map<string, MockContact>();
  const lists = new Map<string, MockList>();
  const events: MockEmailEvent[] = [];
  const dailyUsed = new Map<string, number>();
  let nextContactId = 101;
  let nextListId = 1;
  let nextEventId = 1;

  const now = () => new Date().toISOString();
  const byEmail = (email: string) => {
    const wanted = email.trim().toLowerCase();
    return [...contacts.values()].find(
      (c) => c.properties.email === wanted || splitEmails(c.properties.hs_additional_emails).includes(wanted),
    );
  };
  const listByName = (name: string) => [...lists.values()].find((l) => l.name.toLowerCase() === name.toLowerCase());

  /** What is wrong with one input's properties, as HubSpot's VALIDATION_ERROR lists it. */
  const problemsOf = (properties: Record<string, unknown>): PropertyProblem[] =>
    Object.entries(properties).flatMap(([name, value]): PropertyProblem[] => {
      if (!known.has(name)) {
        return [{ isValid: false, message: `Property "${name}" does not exist`, error: "PROPERTY_DOESNT_EXIST", name }];
      }
      if (typeof value === "object" && value !== null) {
        return [
          { isValid: false, message: `${JSON.stringify(value)} is not a valid value`, error: "INVALID_OPTION", name },
        ];
      }
      if (name === "email" && !VALID_EMAIL.test(String(value))) {
        return [{ isValid: false, message: `Email address ${value} is invalid`, error: "INVALID_EMAIL", name }];
      }
      return [];
    });

  const upsert = (email: string, properties: Record<string, unknown>): { contact: MockContact; created: boolean } => {
    const values = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, v === null ? "" : String(v)]));
    const existing = byEmail(email);
    if (existing) {
      // An update never changes the email: a contact matched through an additional email keeps its primary one.
      const { email: _primary, ...rest } = values;
      Object.assign(existing.properties, rest, { lastmodifieddate: now() });
      existing.updatedAt = now();
      return { contact: existing, created: false };
    }
    const id = String(nextContactId++);
    const at = now();
    const contact: MockContact = {
      id,
      properties: {
        ...values,
        email: email.trim().toLowerCase(),
        hs_object_id: id,
        createdate: at,
        lastmodifieddate: at,
      },
      createdAt: at,
      updatedAt: at,
      archived: false,
    };
    contacts.set(id, contact);
    return { contact, created: true };
  };

  const mock = await startMockVendor(
    (app) => {
      // Auth, then the daily and ten-secondly limits, with HubSpot's headers on every authenticated answer.
      app.use(async (c, next) => {
        const token = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
        if (!token || !tokens.has(token)) {
          return hsError(c, 401, "INVALID_AUTHENTICATION", "Authentication credentials not found.");
        }
        if (options.dailyLimit !== undefined) {
          const used = dailyUsed.get(token) ?? 0;
          c.header("X-HubSpot-RateLimit-Daily", String(options.dailyLimit));
          c.header("X-HubSpot-RateLimit-Daily-Remaining", String(Math.max(0, options.dailyLimit - used - 1)));
          if (used >= options.dailyLimit) return rateLimited(c, "DAILY");
          dailyUsed.set(token, used + 1);
        }
        const { allowed, remaining } = limiter.take(token);
        c.header("X-HubSpot-RateLimit-Max", String(limiter.limit));
        c.header("X-HubSpot-RateLimit-Remaining", String(remaining));
        c.header("X-HubSpot-RateLimit-Interval-Milliseconds", String(limiter.windowMs));
        if (!allowed) return rateLimited(c, "TEN_SECONDLY_ROLLING");
        await next();
      });

      app.get("/crm/v3/objects/contacts", (c) => {
        const limit = Math.min(Number(c.req.query("limit") ?? 10) || 10, 100);
        return c.json({ results: [...contacts.values()].slice(0, limit) });
      });

      app.post("/crm/v3/objects/contacts/batch/upsert", async (c) => {
        const { inputs } = await c.req.json<{
          inputs?: Array<{ idProperty?: string; id?: string; properties?: Record<string, unknown> }>;
        }>();
        if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 100) {
          return hsError(c, 400, "VALIDATION_ERROR", "inputs must hold between 1 and 100 items");
        }
        if (inputs.some((input) => input.idProperty !== "email")) {
          return hsError(c, 400, "VALIDATION_ERROR", "Unable to perform update/upsert by non-unique 0-1 property");
        }
        const ids = inputs.map((input) => String(input.id ?? "").toLowerCase());
        const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
        if (duplicates.length > 0) {
          return hsError(c, 400, "VALIDATION_ERROR", `Duplicate IDs found in batch input: [${duplicates.join(", ")}]`);
        }
        // Validate everything before writing anything: a refused batch changes nothing.
        const checked = inputs.map((input) => ({
          input,
          problems: problemsOf({ ...input.properties, email: input.id }),
        }));
        const invalid = checked.filter(({ problems }) => problems.length > 0);
        if (invalid.length > 0 && options.batchErrors === "400") {
          return hsError(
            c,
            400,
            "VALIDATION_ERROR",
            `Property values were not valid: ${JSON.stringify(invalid[0].problems)}`,
          );
        }
        const startedAt = now();
        const results = checked
          .filter(({ problems }) => problems.length === 0)
          .map(({ input }) => {
            const { contact, created } = upsert(String(input.id), input.properties ?? {});
            return { ...contact, new: created };
          });
        const errors = invalid.map(({ input, problems }) => ({
          status: "error",
          category: "VALIDATION_ERROR",
          message: `Property values were not valid: ${JSON.stringify(problems)}`,
          context: { ids: [String(input.id)] },
        }));
        const body = { status: "COMPLETE", results, startedAt, completedAt: now() };
        return errors.length > 0 ? c.json({ ...body, numErrors: errors.length, errors }, 207) : c.json(body, 200);
      });

      app.post("/crm/v3/objects/contacts/batch/read", async (c) => {
        const request = await c.req.json<{
          idProperty?: string;
          properties?: string[];
          inputs?: Array<{ id?: string }>;
        }>();
        const inputs = request.inputs ?? [];
        if (inputs.length === 0 || inputs.length > 100) {
          return hsError(c, 400, "VALIDATION_ERROR", "inputs must hold between 1 and 100 items");
        }
        const wanted = [
          "hs_object_id",
          "createdate",
          "lastmodifieddate",
          ...(request.properties ?? ["email", "firstname", "lastname"]),
        ];
        const found: MockContact[] = [];
        const missing: string[] = [];
        for (const { id = "" } of inputs) {
          const contact = request.idProperty === "email" ? byEmail(id) : contacts.get(id);
          if (contact) found.push({ ...contact, properties: pick(contact.properties, wanted) });
          else missing.push(id);
        }
        const body = { status: "COMPLETE", results: found, startedAt: now(), completedAt: now() };
        if (missing.length === 0) return c.json(body, 200);
        const error = {
          status: "error",
          category: "OBJECT_NOT_FOUND",
          message: "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
          context: { ids: missing },
        };
        return c.json({ ...body, numErrors: 1, errors: [error] }, 207);
      });

      app.post("/crm/v3/objects/contacts/gdpr-delete", async (c) => {
        const { objectId, idProperty } = await c.req.json<{ objectId?: string; idProperty?: string }>();
        const contact = idProperty === "email" ? byEmail(String(objectId ?? "")) : contacts.get(String(objectId));
        if (!contact) return hsError(c, 404, "OBJECT_NOT_FOUND", "resource not found");
        contacts.delete(contact.id);
        for (const list of lists.values()) list.members.delete(contact.id);
        return c.body(null, 204);
      });

      app.post("/crm/v3/lists", async (c) => {
        const { name, objectTypeId, processingType } = await c.req.json<{
          name?: string;
          objectTypeId?: string;
          processingType?: string;
        }>();
        if (!name || objectTypeId !== "0-1" || !LIST_PROCESSING_TYPES.includes(processingType ?? "")) {
          return hsError(c, 400, "VALIDATION_ERROR", "name, objectTypeId 0-1 and a processingType are required");
        }
        if (listByName(name)) {
          return hsError(c, 400, "VALIDATION_ERROR", `A list named ${name} already exists.`, {
            subCategory: "ILS.DUPLICATE_LIST_NAMES",
          });
        }
        const at = now();
        const list: MockList = {
          listId: String(nextListId++),
          name,
          objectTypeId,
          processingType: processingType!,
          members: new Set(),
          createdAt: at,
          updatedAt: at,
        };
        lists.set(list.listId, list);
        return c.json({ list: listJson(list) }, 200);
      });

      app.get("/crm/v3/lists/object-type-id/:objectTypeId/name/:name", (c) => {
        const list = listByName(c.req.param("name"));
        if (!list || list.objectTypeId !== c.req.param("objectTypeId")) {
          return hsError(c, 404, "OBJECT_NOT_FOUND", "List does not exist.");
        }
        return c.json({ list: listJson(list) });
      });

      app.delete("/crm/v3/lists/:listId", (c) => {
        if (!lists.delete(c.req.param("listId"))) return hsError(c, 404, "OBJECT_NOT_FOUND", "List does not exist.");
        return c.body(null, 204);
      });

      /** Applies adds and removes to a MANUAL or SNAPSHOT list; record ids the portal lacks are reported, not refused. */
      const changeMembers = (c: Context, toAdd: unknown, toRemove: unknown) => {
        const list = lists.get(c.req.param("listId") ?? "");
        if (!list) return hsError(c, 404, "OBJECT_NOT_FOUND", "List does not exist.");
        if (list.processingType === "DYNAMIC") {
          return hsError(c, 400, "VALIDATION_ERROR", `List ${list.listId} is DYNAMIC; memberships cannot be changed.`);
        }
        const recordIdsMissing: string[] = [];
        const recordsIdsAdded: string[] = [];
        const recordIdsRemoved: string[] = [];
        for (const id of asIds(toAdd)) {
          if (!contacts.has(id)) recordIdsMissing.push(id);
          else if (!list.members.has(id)) recordsIdsAdded.push(id);
          list.members.add(id);
        }
        for (const id of asIds(toRemove)) {
          if (!contacts.has(id)) recordIdsMissing.push(id);
          else if (list.members.delete(id)) recordIdsRemoved.push(id);
        }
        for (const id of recordIdsMissing) list.members.delete(id);
        list.updatedAt = now();
        // Sic: HubSpot spells the added field `recordsIdsAdded`.
        return c.json({ recordIdsMissing, recordsIdsAdded, recordIdsRemoved });
      };
      app.put("/crm/v3/lists/:listId/memberships/add", async (c) => changeMembers(c, await c.req.json(), []));
      app.put("/crm/v3/lists/:listId/memberships/remove", async (c) => changeMembers(c, [], await c.req.json()));
      app.put("/crm/v3/lists/:listId/memberships/add-and-remove", async (c) => {
        const { recordIdsToAdd, recordIdsToRemove } = await c.req.json<{
          recordIdsToAdd?: unknown;
          recordIdsToRemove?: unknown;
        }>();
        return changeMembers(c, recordIdsToAdd ?? [], recordIdsToRemove ?? []);
      });

      app.get("/email/public/v1/events", (c) => {
        const q = c.req.query();
        const limit = Math.min(Number(q.limit) || 100, 1000, options.eventsPageSize ?? 1000);
        const start = q.startTimestamp ? Number(q.startTimestamp) : Number.NEGATIVE_INFINITY;
        const end = q.endTimestamp ? Number(q.endTimestamp) : Number.POSITIVE_INFINITY;
        const matching = events
          .filter((e) => e.created >= start && e.created <= end)
          .filter((e) => !q.eventType || e.type === q.eventType)
          .filter((e) => !q.recipient || e.recipient === q.recipient)
          .sort((a, b) => b.created - a.created || b.id.localeCompare(a.id));
        const from = q.offset ? Number(Buffer.from(q.offset, "base64url").toString()) : 0;
        const page = matching.slice(from, from + limit);
        const hasMore = from + limit < matching.length;
        const offset = Buffer.from(String(from + page.length)).toString("base64url");
        return c.json({ events: page, hasMore, offset });
      });
    },
    () => {
      contacts.clear();
      lists.clear();
      events.length = 0;
      dailyUsed.clear();
      limiter.reset();
      nextContactId = 101;
      nextListId = 1;
      nextEventId = 1;
    },
    options,
  );

  return Object.assign(mock, {
    token: [...tokens][0],
    limiter,
    contacts: () => [...contacts.values()].map((c) => ({ ...c, properties: { ...c.properties } })),
    listNames: () => [...lists.values()].map((l) => l.name),
    listMembers: (name: string) => {
      const list = listByName(name);
      if (!list) return [];
      return [...list.members].map((id) => contacts.get(id)?.properties.email ?? id).sort();
    },
    addEmailEvents: (seed: Parameters<MockHubSpot["addEmailEvents"]>[0]) => {
      const added = seed.map((e) => ({
        id: `evt-${String(nextEventId++).padStart(6, "0")}`,
        portalId,
        appId: 113,
        emailCampaignId: 4242,
        ...e,
      }));
      events.push(...added);
      return added;
    },
    emitWebhook: (
      targetUrl: string,
      partial: Array<Partial<MockWebhookEvent>>,
      clientSecret: string,
      emitOptions: { timestamp?: number } = {},
    ) => {
      const occurredAt = Date.now();
      const body = JSON.stringify(
        partial.map((e, i) => ({
          eventId: i + 1,
          subscriptionId: 12345,
          portalId,
          appId: 54321,
          occurredAt,
          subscriptionType: "contact.propertyChange",
          attemptNumber: 0,
          objectId: 123,
          changeSource: "CRM",
          ...e,
        })),
      );
      const timestamp = String(emitOptions.timestamp ?? Date.now());
      const source = `POST${hubSpotSignedUri(targetUrl)}${body}${timestamp}`;
      return fetch(targetUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "X-HubSpot-Request-Timestamp": timestamp,
          "X-HubSpot-Signature-v3": createHmac("sha256", clientSecret).update(source, "utf8").digest("base64"),
          // The legacy signature HubSpot still sends alongside: sha256 hex of secret + body.
          "X-HubSpot-Signature-Version": "v1",
          "X-HubSpot-Signature": createHash("sha256")
            .update(clientSecret + body, "utf8")
            .digest("hex"),
        },
        body,
      });
    },
  });
}

/** HubSpot's error envelope. */
function hsError(c: Context, status: 400 | 401 | 404, category: string, message: string, extra = {}) {
  return c.json({ status: "error", message, correlationId: randomUUID(), category, ...extra }, status);
}

function rateLimited(c: Context, policyName: "DAILY" | "TEN_SECONDLY_ROLLING") {
  const window = policyName === "DAILY" ? "daily" : "ten_secondly_rolling";
  return c.json(
    {
      status: "error",
      message: `You have reached your ${window} limit.`,
      errorType: "RATE_LIMIT",
      correlationId: randomUUID(),
      policyName,
      requestId: randomUUID(),
    },
    429,
  );
}

/** HubSpot signs the target URL with these twelve escapes decoded (its request-validation guide's table). */
function hubSpotSignedUri(url: string): string {
  const table: Record<string, string> = {
    "3A": ":",
    "2F": "/",
    "3F": "?",
    "40": "@",
    "21": "!",
    "24": "$",
    "27": "'",
    "28": "(",
    "29": ")",
    "2A": "*",
    "2C": ",",
    "3B": ";",
  };
  return url.replace(/%([0-9A-Fa-f]{2})/g, (encoded, hex: string) => table[hex.toUpperCase()] ?? encoded);
}

function listJson(list: MockList) {
  const { members, ...rest } = list;
  return { ...rest, listVersion: 1, size: members.size };
}

function splitEmails(value: string | undefined): string[] {
  return (value ?? "")
    .split(";")
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
}

function asIds(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function pick(properties: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => n in properties).map((n) => [n, properties[n]]));
}
