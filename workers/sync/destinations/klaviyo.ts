/**
 * The `klaviyo` destination (DESIGN §7, reference/maps.md §1 and §2.3): JSON:API at revision 2026-07-15.
 *
 * Contacts go one of two ways, by how many one call carries. Fewer than {@link BULK_IMPORT_FROM}: one
 * `POST /api/profile-import` each. Its answer is synchronous, so each contact gets its own outcome and its Klaviyo
 * profile id at once, which list membership needs (`/api/lists/{id}/relationships/profiles` takes ids only), within
 * the 2 s goal for a person entering. From that many (a first fill, a backlog): profile bulk import jobs
 * (`klaviyo-bulk-import.ts`), up to 10,000 contacts a request, and list entries without a known id are added to the
 * list by the job itself (`relationships.lists`). profile-import allows 750 requests a minute, so a fill of 20,000
 * took 27 minutes one by one; bulk import allows 150 jobs a minute. A job is processed asynchronously: its contacts
 * are `ok` once Klaviyo accepted it (the job's id in the log's note), without their Klaviyo ids, and the engine asks
 * `jobOutcome` once the job is done, which names the contacts it failed after all and gives the Klaviyo ids of the
 * others, read from the job's profiles: an engagement webhook may name a contact by that id alone. A removal from a
 * list waits while a job adding to that list is unfinished (it would list the person again), and the engine holds a
 * newer upsert of a contact while a job holding an older state of it is unfinished (it would write that state over
 * it).
 *
 * Each audience is a Klaviyo list (`list.name`), found by name or created, its id kept in `ctx.store`. Adding to a
 * list does not change consent (maps.md §1e).
 *
 * @example
 * const outcomes = await klaviyo.upsertContacts(
 *   { config: { api_key: "pk_…" }, fetch, now: Date.now, store },
 *   [{ identity: { profileId: "p1", email: "ada@example.com" }, traits: { first_name: "Ada", plan: "pro" } }],
 * ); // [{ status: "ok", vendorId: "01J…" }]
 */
import pLimit from "p-limit";
import type { AudienceList, ContactIdentity, ContactUpsert, DestinationPlugin, MembershipOp, Outcome } from "../plugin";
import { optionalSecretProblem, type Settings, settingsProblem } from "./config-settings";
import { erasedOutcome } from "./erased-outcome";
import { type BulkList, bulkImport, jobOutcome } from "./klaviyo-bulk-import";
import { type Ctx, type Failure, type KlaviyoConfig, type KlaviyoError, type Resource, request } from "./klaviyo-http";

export { KLAVIYO_REVISION, type KlaviyoConfig } from "./klaviyo-http";

/**
 * From this many contacts in one call, bulk import jobs instead of a profile-import each. Below it, one by one takes
 * under 8 s at the destination's 12 requests a second and at most 99 of profile-import's steady 750 a minute, and
 * gives each contact its outcome and Klaviyo id at once. From it, one by one misses the 2 s goal several times over,
 * and a thousand take 83 s, more than a minute's allowance, while a job is one request of bulk import's 150 a minute
 * whatever its size. A lone entry is always a profile-import; a backlog crosses the threshold by itself, as the
 * engine hands the plugin up to `limits.upsertBatch` contacts, and up to `membershipBatch` list changes, in one call.
 */
export const BULK_IMPORT_FROM = 100;
/** Contacts per upsert call: as many as one bulk import job takes, so a backlog reaches the plugin whole. */
const UPSERT_BATCH = 10_000;
/** `profile-import` requests in flight within one call: about 25–50 a second, under the 75/s burst limit. */
const UPSERT_PARALLELISM = 5;
/** Profile ids per list relationship call (maps.md §1b). */
const MEMBERSHIP_BATCH = 1000;
/** Emails per `any(email,[…])` lookup: a page holds at most 100 profiles. */
const LOOKUP_BATCH = 100;
const KLAVIYO_SETTINGS = {
  api_key: true,
  base_url: true,
  revision: true,
  webhook_secret: true,
} satisfies Settings<KlaviyoConfig>;

export const klaviyo: DestinationPlugin<KlaviyoConfig> = {
  type: "klaviyo",
  secretFields: ["api_key", "webhook_secret"],
  // One call at a time keeps list creation race-free.
  limits: {
    upsertBatch: UPSERT_BATCH,
    membershipBatch: MEMBERSHIP_BATCH,
    concurrency: 1,
    // HTTP requests (the engine counts each call through ctx.fetch): profile-import, one request per contact, allows
    // 750 a minute (burst 75 a second); 12 a second (720 a minute) stays under it. List relationships and bulk import
    // jobs (each 150 a minute) take 1,000 and 10,000 contacts a call, so they hardly count; Klaviyo's 429 +
    // Retry-After is the backstop.
    rate: { limit: 12, perMs: 1_000 },
  },

  validateConfig(config) {
    const shape = settingsProblem(config, KLAVIYO_SETTINGS, "Klaviyo");
    if (shape) return shape;
    const c = config as Record<string, unknown>;
    if (typeof c.api_key !== "string" || c.api_key.trim() === "") return "api_key: is required";
    if (c.base_url !== undefined && !isHttpUrl(c.base_url)) return "base_url: must be an http(s) URL";
    if (c.revision !== undefined && (typeof c.revision !== "string" || !/^\d{4}-\d{2}-\d{2}(\.\w+)?$/.test(c.revision)))
      return "revision: must be a date like 2026-07-15";
    return optionalSecretProblem(c, "webhook_secret");
  },

  async testConnection(ctx) {
    // Reading lists needs a scope the plugin needs anyway, and costs one request.
    const res = await request(ctx, "GET", "/api/lists", { query: { "page[size]": "1" } });
    if (!res.ok) throw new Error(res.failure.status === "retry" ? res.failure.reason : res.failure.message);
  },

  upsertContacts(ctx, items) {
    if (items.filter((item) => item.identity.email).length >= BULK_IMPORT_FROM) return importInBulk(ctx, items);
    return eachInParallel(items, (item) => upsertOne(ctx, item));
  },

  async applyMemberships(ctx, list, items) {
    const listId = await listIdFor(ctx, list);
    if (typeof listId !== "string") return items.map(() => listId);
    // A removal never overtakes a job still adding its contact to the list: the engine holds it (`jobListing`).
    const outcomes: Array<Outcome | undefined> = items.map(() => undefined);
    // Many entries without a known id: jobs upsert them and list them, no lookup needed.
    const unknown = items.flatMap((item, i) =>
      item.member && !item.identity.vendorId && item.identity.email ? [i] : [],
    );
    if (unknown.length >= BULK_IMPORT_FROM) {
      const relist = () => findListAgain(ctx, list);
      const imported = await importInBulk(
        ctx,
        unknown.map((i) => items[i]),
        { id: listId, relist },
      );
      unknown.forEach((i, k) => {
        outcomes[i] = imported[k];
      });
    }
    const rest = items.flatMap((_, i) => (outcomes[i] === undefined ? [i] : []));
    const listed = await listByIds(
      ctx,
      list,
      listId,
      rest.map((i) => items[i]),
    );
    rest.forEach((i, k) => {
      outcomes[i] = listed[k];
    });
    return outcomes as Outcome[];
  },

  async deleteContact(ctx, person) {
    // A deletion job takes exactly one identifier (no batch): a job per email, which deletes every profile holding
    // it, then one per Klaviyo id recorded (a profile whose email changed in Klaviyo no longer holds the synced one).
    const profiles = [
      ...person.emails.map((email) => ({ type: "profile", attributes: { email } })),
      ...person.vendorIds.map((id) => ({ type: "profile", id, attributes: {} })),
    ];
    if (profiles.length === 0) return { status: "skip", reason: "no email or Klaviyo profile id" };
    const outcomes: Outcome[] = [];
    for (const profile of profiles) {
      const res = await request(ctx, "POST", "/api/data-privacy-deletion-jobs", {
        body: { data: { type: "data-privacy-deletion-job", attributes: { profile: { data: profile } } } },
      });
      // A profile Klaviyo does not have (the email's job took it already) is what the delete asks for.
      outcomes.push(res.ok || res.status === 404 ? { status: "ok" } : res.failure);
    }
    return erasedOutcome(outcomes);
  },

  jobOutcome,
};

// ---------------------------------------------------------------------------------------------------------------
// Contacts

async function upsertOne(ctx: Ctx, item: ContactUpsert): Promise<Outcome> {
  if (!item.identity.email) return { status: "skip", reason: "no email" };
  const attributes = { ...profileAttributes(item.traits), email: item.identity.email };
  const res = await request(ctx, "POST", "/api/profile-import", { body: { data: { type: "profile", attributes } } });
  if (res.ok) return { status: "ok", vendorId: (res.data as Resource).id };
  const conflict = res.status === 409 ? res.errors.find((e) => e.meta?.duplicate_profile_id) : undefined;
  return conflict ? updateDuplicate(ctx, conflict, attributes) : res.failure;
}

/** Contacts (and list entries, with `list`) through bulk import jobs; one without an email is skipped. */
async function importInBulk(
  ctx: Ctx,
  items: Array<{ identity: ContactIdentity; traits?: Record<string, unknown> }>,
  list?: BulkList,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = items.map(() => ({ status: "skip", reason: "no email" }));
  const sending = items.flatMap((item, i) => (item.identity.email ? [i] : []));
  const profiles = sending.map((i) => ({
    ...profileAttributes(items[i].traits ?? {}),
    email: items[i].identity.email,
  }));
  const imported = await bulkImport(ctx, profiles, list);
  sending.forEach((i, k) => {
    outcomes[i] = imported[k];
  });
  return outcomes;
}

/**
 * A 409 `duplicate_profile` names the profile that already holds one of the identifiers, and points at the
 * identifier another profile owns. Tessera keys contacts by email, so that profile is updated without the colliding
 * identifier (typically a phone number): the contact and its traits still sync.
 */
async function updateDuplicate(
  ctx: Ctx,
  conflict: KlaviyoError,
  attributes: Record<string, unknown>,
): Promise<Outcome> {
  const id = conflict.meta?.duplicate_profile_id as string;
  const colliding = conflict.source?.pointer?.match(/^\/data\/attributes\/(\w+)$/)?.[1];
  const kept = Object.fromEntries(
    Object.entries(attributes).filter(([name]) => name === "email" || name !== colliding),
  );
  const res = await request(ctx, "PATCH", `/api/profiles/${encodeURIComponent(id)}`, {
    body: { data: { type: "profile", id, attributes: kept } },
  });
  return res.ok ? { status: "ok", vendorId: id } : res.failure;
}

/** Segment trait names with a Klaviyo attribute of their own (DESIGN §7). */
const ATTRIBUTES: Record<string, string> = {
  first_name: "first_name",
  last_name: "last_name",
  company: "organization",
  title: "title",
};
const LOCATION: Record<string, string> = { city: "city", country: "country" };

/** Segment-named traits as profile attributes: the known ones to Klaviyo's fields, the others to `properties`. */
function profileAttributes(traits: Record<string, unknown>): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  const location: Record<string, unknown> = {};
  const properties: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(traits)) {
    if (name === "email") continue; // the identity's email is the key, never a trait's
    if (name === "phone") {
      const phone = value === null ? null : e164(value);
      // Klaviyo rejects the whole profile for a phone that is not E.164: keep the contact, keep the value.
      if (phone === undefined) properties.phone = value;
      else attributes.phone_number = phone;
    } else if (Object.hasOwn(ATTRIBUTES, name)) attributes[ATTRIBUTES[name]] = value;
    else if (Object.hasOwn(LOCATION, name)) location[LOCATION[name]] = value;
    else properties[name] = value;
  }
  if (Object.keys(location).length) attributes.location = location;
  if (Object.keys(properties).length) attributes.properties = properties;
  return attributes;
}

/** The phone in E.164 once spaces, dots, dashes and parentheses are dropped, or undefined. */
function e164(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const compact = value.replace(/[\s().-]/g, "");
  return /^\+[1-9]\d{6,14}$/.test(compact) ? compact : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Lists

/** The list's Klaviyo id: from the store, else found by name, else created; or the failure for every item. */
async function listIdFor(ctx: Ctx, list: AudienceList): Promise<string | Failure> {
  const key = `list:${list.name}`;
  const known = await ctx.store.get(key);
  if (known) return known;
  const found = await request(ctx, "GET", "/api/lists", {
    query: { filter: `equals(name,${JSON.stringify(list.name)})`, "page[size]": "1" },
  });
  if (!found.ok) return found.failure;
  let id = (found.data as Resource[])[0]?.id;
  if (!id) {
    // Klaviyo allows two lists of one name: the engine's one call at a time per destination keeps this single.
    const created = await request(ctx, "POST", "/api/lists", {
      body: { data: { type: "list", attributes: { name: list.name } } },
    });
    if (!created.ok) return created.failure;
    id = (created.data as Resource).id;
  }
  await ctx.store.put(key, id);
  return id;
}

/** The list's id after Klaviyo answered that it no longer has the one kept: found by name or created again. */
async function findListAgain(ctx: Ctx, list: AudienceList): Promise<string | Failure> {
  await ctx.store.put(`list:${list.name}`, "");
  return listIdFor(ctx, list);
}

/**
 * List changes by Klaviyo profile id: known ones, else looked up by email (an entering contact Klaviyo lacks is
 * created), up to 1,000 a call.
 */
async function listByIds(ctx: Ctx, list: AudienceList, listId: string, items: MembershipOp[]): Promise<Outcome[]> {
  const ids = await profileIds(ctx, items);
  const outcomes: Outcome[] = ids.map((id) => (typeof id === "string" ? { status: "ok" } : id));
  for (const member of [true, false]) {
    const indexes = items.flatMap((item, i) => (item.member === member && typeof ids[i] === "string" ? [i] : []));
    for (let start = 0; start < indexes.length; start += MEMBERSHIP_BATCH) {
      const chunk = indexes.slice(start, start + MEMBERSHIP_BATCH);
      const results = await relate(
        ctx,
        list,
        listId,
        member,
        chunk.map((i) => ids[i] as string),
      );
      chunk.forEach((i, k) => {
        outcomes[i] = results[k];
      });
    }
  }
  return outcomes;
}

/**
 * Adds or removes profile ids. A list deleted in Klaviyo (404) is forgotten, found or created again, and the call
 * repeated once. An unknown profile id rejects the whole call with a pointer to it: that item alone fails (or, when
 * removing, is already out) and the others are sent again.
 */
async function relate(
  ctx: Ctx,
  list: AudienceList,
  listId: string,
  member: boolean,
  ids: string[],
): Promise<Outcome[]> {
  const send = (id: string, some: string[]) =>
    request(ctx, member ? "POST" : "DELETE", `/api/lists/${encodeURIComponent(id)}/relationships/profiles`, {
      body: { data: some.map((profileId) => ({ type: "profile", id: profileId })) },
    });
  let res = await send(listId, ids);
  if (!res.ok && res.status === 404) {
    const again = await findListAgain(ctx, list);
    if (typeof again !== "string") return ids.map(() => again);
    listId = again;
    res = await send(listId, ids);
  }
  if (res.ok) return ids.map((vendorId) => ({ status: "ok", vendorId }));
  const unknown = pointedItems(res.errors);
  if (res.status !== 400 || unknown.size === 0) return ids.map(() => res.failure);
  const rest = ids.filter((_, i) => !unknown.has(i));
  const resent = rest.length ? await send(listId, rest) : undefined;
  return ids.map((id, i): Outcome => {
    if (unknown.has(i))
      return member ? { status: "fail", code: "not_found", message: `Klaviyo has no profile ${id}` } : { status: "ok" };
    return resent && !resent.ok ? resent.failure : { status: "ok", vendorId: id };
  });
}

/** The item indexes a JSON:API error list points at (`/data/3/id`). */
function pointedItems(errors: KlaviyoError[]): Set<number> {
  const indexes = new Set<number>();
  for (const e of errors) {
    const m = e.source?.pointer?.match(/^\/data\/(\d+)(\/|$)/);
    if (m) indexes.add(Number(m[1]));
  }
  return indexes;
}

/**
 * Each item's Klaviyo profile id, or its final outcome. Known ids come with the item; the others are looked up by
 * email, 100 at a time. A contact Klaviyo does not have is created (with its traits) when it enters a list, and is
 * already out of it when it leaves.
 */
async function profileIds(ctx: Ctx, items: MembershipOp[]): Promise<Array<string | Outcome>> {
  // undefined: not known yet.
  const ids: Array<string | Outcome | undefined> = items.map(
    (item) => item.identity.vendorId ?? (item.identity.email ? undefined : { status: "skip", reason: "no email" }),
  );
  const unresolved = items.flatMap((_, i) => (ids[i] === undefined ? [i] : []));
  for (let start = 0; start < unresolved.length; start += LOOKUP_BATCH) {
    const chunk = unresolved.slice(start, start + LOOKUP_BATCH);
    const emails = chunk.map((i) => items[i].identity.email as string);
    const res = await request(ctx, "GET", "/api/profiles", {
      query: {
        filter: `any(email,[${emails.map((e) => JSON.stringify(e)).join(",")}])`,
        "fields[profile]": "email",
        "page[size]": String(LOOKUP_BATCH),
      },
    });
    const byEmail = new Map(
      res.ok ? (res.data as Resource[]).map((p) => [String(p.attributes?.email).toLowerCase(), p.id]) : [],
    );
    for (const i of chunk) {
      const found = res.ok ? byEmail.get((items[i].identity.email as string).toLowerCase()) : undefined;
      if (!res.ok) ids[i] = res.failure;
      else if (found) ids[i] = found;
      else if (!items[i].member) ids[i] = { status: "ok" };
    }
  }
  const missing = items.flatMap((_, i) => (ids[i] === undefined ? [i] : []));
  const created = await eachInParallel(missing, (i) =>
    upsertOne(ctx, { identity: items[i].identity, traits: items[i].traits ?? {} }),
  );
  missing.forEach((i, k) => {
    const outcome = created[k];
    ids[i] = outcome.status === "ok" && outcome.vendorId ? outcome.vendorId : outcome;
  });
  return ids as Array<string | Outcome>;
}

// ---------------------------------------------------------------------------------------------------------------
// Pacing

/**
 * Runs `fn` over the items with at most `UPSERT_PARALLELISM` in flight, results in order. Once one throws (Klaviyo
 * said slow down, or refused the key) nothing new is sent; the error is rethrown when the calls in flight settle.
 */
async function eachInParallel<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const limit = pLimit(UPSERT_PARALLELISM);
  let stop: { error: unknown } | undefined;
  const settled = await Promise.allSettled(
    items.map((item) =>
      limit(async () => {
        if (stop) throw stop.error;
        try {
          return await fn(item);
        } catch (error) {
          stop ??= { error };
          throw error;
        }
      }),
    ),
  );
  if (stop) throw stop.error;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    const { protocol } = new URL(value);
    return protocol === "https:" || protocol === "http:";
  } catch {
    return false;
  }
}
