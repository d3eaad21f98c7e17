import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { BULK_IMPORT_FROM, type KlaviyoConfig, klaviyo } from "../../workers/sync/destinations/klaviyo";
import { concatBytes, hmacSha256, toHex } from "../../workers/sync/hmac";
import { klaviyoInbound } from "../../workers/sync/inbound/klaviyo";
import {
  type AudienceList,
  AuthRefused,
  type ContactIdentity,
  type ErasedContact,
  type PluginContext,
  type RawInbound,
  Throttled,
} from "../../workers/sync/plugin";
import { klaviyoWebhook, startMockKlaviyo } from "../support/mocks/klaviyo";
import { type RecordedRequest, startMockVendor } from "../support/mocks/mock-vendor";
import { pollUntil } from "../support/poll-until";

const mock = await startMockKlaviyo();
const receiver = await startMockVendor((app) => {
  app.post("/hooks/klaviyo", (c) => c.body(null, 204));
});
afterAll(async () => {
  await mock.stop();
  await receiver.stop();
});
beforeEach(() => {
  mock.reset();
  receiver.reset();
});

const VIP: AudienceList = { key: "vip", name: "tessera_vip" };

function contextFor(
  config: Partial<KlaviyoConfig> = {},
  store = new Map<string, string>(),
  fetcher: typeof fetch = fetch,
): PluginContext<KlaviyoConfig> {
  return {
    config: { api_key: mock.apiKey, base_url: mock.url, ...config },
    fetch: fetcher,
    now: () => Date.now(),
    store: {
      get: async (key) => store.get(key),
      put: async (key, value) => {
        store.set(key, value);
      },
    },
  };
}

/** An error of a JSON:API envelope, as the mock answers it. */
type KlaviyoErr = { source: { pointer: string } };
const who = (email?: string, vendorId?: string): ContactIdentity => ({ profileId: `p_${email}`, email, vendorId });
/** A GDPR delete of a person who had these emails, and these vendor ids recorded. */
const person = (emails: string[], vendorIds: string[] = []): ErasedContact => ({
  profileId: "p",
  emails,
  vendorIds,
  identifiers: emails.map((value) => ({ type: "email", value })),
});
const profileOf = (email: string) => mock.profiles().find((p) => p.email === email);
/** A contact's email and the id Klaviyo holds it under, as a job's outcome gives them. */
const idOf = (email: string) => ({ email, vendorId: profileOf(email)?.id });
const callsTo = (method: string, path: string | RegExp) =>
  mock.requests.filter((r) => r.method === method && (typeof path === "string" ? r.path === path : path.test(r.path)));

async function upsert(emails: string[], ctx = contextFor()) {
  return klaviyo.upsertContacts(
    ctx,
    emails.map((email) => ({ identity: who(email), traits: {} })),
  );
}

describe("klaviyo.validateConfig", () => {
  it("accepts the documented settings and names the first bad field", () => {
    expect(klaviyo.validateConfig({ api_key: "pk_x" })).toBeNull();
    expect(
      klaviyo.validateConfig({
        api_key: "pk_x",
        base_url: "https://a.klaviyo.com",
        revision: "2026-07-15",
        webhook_secret: "s3cret",
      }),
    ).toBeNull();
    expect(klaviyo.validateConfig(null)).toMatch(/^config: /);
    expect(klaviyo.validateConfig({})).toMatch(/^api_key: /);
    expect(klaviyo.validateConfig({ api_key: "pk_x", base_url: "ftp://a.klaviyo.com" })).toMatch(/^base_url: /);
    expect(klaviyo.validateConfig({ api_key: "pk_x", revision: "latest" })).toMatch(/^revision: /);
    expect(klaviyo.validateConfig({ api_key: "pk_x", webhook_secret: "" })).toMatch(/^webhook_secret: /);
    expect(klaviyo.validateConfig({ api_key: "pk_x", apiKey: "pk_x" })).toMatch(/^apiKey: /);
  });
});

describe("klaviyo.upsertContacts", () => {
  it("gives one outcome per contact in order: mapped, invalid email, no email, unusable phone", async () => {
    const outcomes = await klaviyo.upsertContacts(contextFor(), [
      {
        identity: who("ada@example.com"),
        traits: {
          first_name: "Ada",
          last_name: "Lovelace",
          company: "Analytical Engines",
          title: "Countess",
          city: "London",
          country: "GB",
          phone: "+44 20 7946 0018",
          plan: "pro",
        },
      },
      { identity: who("not-an-email"), traits: { first_name: "X" } },
      { identity: { profileId: "p_none" }, traits: { first_name: "Nobody" } },
      { identity: who("bob@example.com"), traits: { phone: "555-0100" } },
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(["ok", "fail", "skip", "ok"]);
    expect(outcomes[1]).toMatchObject({ code: "invalid_identity", message: expect.stringContaining("/email") });
    const ada = profileOf("ada@example.com");
    expect(outcomes[0]).toEqual({ status: "ok", vendorId: ada?.id });
    expect(ada).toMatchObject({
      first_name: "Ada",
      last_name: "Lovelace",
      organization: "Analytical Engines",
      title: "Countess",
      phone_number: "+442079460018",
      location: { city: "London", country: "GB" },
      properties: { plan: "pro" },
    });
    // A phone Klaviyo would refuse (not E.164) is kept as a property instead of failing the contact.
    const bob = profileOf("bob@example.com");
    expect(outcomes[3]).toEqual({ status: "ok", vendorId: bob?.id });
    expect(bob?.phone_number).toBeUndefined();
    expect(bob?.properties).toEqual({ phone: "555-0100" });
    expect(mock.profiles()).toHaveLength(2);
  });

  it("updates the same profile on a later upsert, leaving traits it does not carry alone", async () => {
    const ctx = contextFor();
    const [first] = await klaviyo.upsertContacts(ctx, [
      { identity: who("ada@example.com"), traits: { first_name: "Ada", last_name: "Lovelace" } },
    ]);
    const [second] = await klaviyo.upsertContacts(ctx, [
      { identity: who("ada@example.com"), traits: { first_name: "Augusta" } },
    ]);

    expect(second).toEqual(first);
    expect(mock.profiles()).toHaveLength(1);
    expect(profileOf("ada@example.com")).toMatchObject({ first_name: "Augusta", last_name: "Lovelace" });
  });

  it("updates the profile Klaviyo names on a duplicate_profile conflict, without the colliding phone", async () => {
    const ctx = contextFor();
    await klaviyo.upsertContacts(ctx, [{ identity: who("x@example.com"), traits: { phone: "+15550100001" } }]);
    const [y] = await upsert(["y@example.com"], ctx);

    const [outcome] = await klaviyo.upsertContacts(ctx, [
      { identity: who("y@example.com"), traits: { phone: "+1 555 010 0001", first_name: "Yan" } },
    ]);

    expect(outcome).toEqual({ status: "ok", vendorId: y.status === "ok" ? y.vendorId : "" });
    const patch = callsTo("PATCH", /^\/api\/profiles\//);
    expect(patch.map((r) => r.path)).toEqual([`/api/profiles/${profileOf("y@example.com")?.id}`]);
    expect(JSON.parse(patch[0].body).data.attributes.phone_number).toBeUndefined();
    expect(profileOf("y@example.com")).toMatchObject({ first_name: "Yan" });
    expect(profileOf("x@example.com")?.phone_number).toBe("+15550100001");
  });
});

describe("klaviyo requests", () => {
  it("carry the key, the pinned revision and JSON:API media types on every call", async () => {
    const ctx = contextFor();
    await klaviyo.testConnection(ctx);
    await upsert(["ada@example.com"], ctx);
    await klaviyo.applyMemberships(ctx, VIP, [
      { identity: who("ada@example.com"), member: true },
      { identity: who("bob@example.com"), member: false },
    ]);
    await klaviyo.deleteContact(ctx, person(["ada@example.com"]));

    expect(new Set(mock.requests.map((r) => `${r.method} ${r.path.replace(/\/[^/]*\d[^/]*/, "/:id")}`))).toEqual(
      new Set([
        "GET /api/lists",
        "POST /api/lists",
        "POST /api/profile-import",
        "GET /api/profiles",
        "POST /api/lists/:id/relationships/profiles",
        "POST /api/data-privacy-deletion-jobs",
      ]),
    );
    for (const r of mock.requests) {
      expect(r.headers.revision).toBe("2026-07-15");
      expect(r.headers.authorization).toBe(`Klaviyo-API-Key ${mock.apiKey}`);
      expect(r.headers.accept).toBe("application/vnd.api+json");
      if (r.body) expect(r.headers["content-type"]).toBe("application/vnd.api+json");
    }
  });

  it("are refused by the mock, as by Klaviyo, without a revision header", async () => {
    const res = await fetch(`${mock.url}/api/lists`, { headers: { authorization: `Klaviyo-API-Key ${mock.apiKey}` } });
    expect(res.status).toBe(400);
    const { errors } = await res.json();
    expect(errors[0]).toMatchObject({ status: 400, code: "invalid", source: { parameter: "revision" } });
    expect(errors[0].id).toEqual(expect.any(String));
  });
});

describe("klaviyo.applyMemberships", () => {
  it("creates the audience's list once, then finds it by name when the store has forgotten it", async () => {
    const store = new Map<string, string>();
    await klaviyo.applyMemberships(contextFor({}, store), VIP, [{ identity: who("a@example.com"), member: true }]);
    expect(callsTo("POST", "/api/lists")).toHaveLength(1);

    mock.requests.length = 0;
    await klaviyo.applyMemberships(contextFor({}, store), VIP, [{ identity: who("b@example.com"), member: true }]);
    expect(callsTo("GET", "/api/lists")).toHaveLength(0);
    expect(callsTo("POST", "/api/lists")).toHaveLength(0);

    await klaviyo.applyMemberships(contextFor(), VIP, [{ identity: who("c@example.com"), member: true }]);
    const [lookup] = callsTo("GET", "/api/lists");
    expect(lookup.query.filter).toBe('equals(name,"tessera_vip")');
    expect(callsTo("POST", "/api/lists")).toHaveLength(0);
    expect(mock.lists("tessera_vip")).toHaveLength(1);
    expect(mock.listMembers("tessera_vip")).toEqual(["a@example.com", "b@example.com", "c@example.com"]);
  });

  it("adds by known id, by email looked up, and by creating the contact; removes likewise", async () => {
    const ctx = contextFor();
    const [a, b] = await upsert(["a@example.com", "b@example.com"], ctx);
    const aId = a.status === "ok" ? a.vendorId : undefined;
    const bId = b.status === "ok" ? b.vendorId : undefined;

    const added = await klaviyo.applyMemberships(ctx, VIP, [
      { identity: who("a@example.com", aId), member: true },
      { identity: who("b@example.com"), member: true },
      { identity: who("c@example.com"), member: true, traits: { first_name: "Cy" } },
      { identity: { profileId: "p_anonymous" }, member: true },
    ]);

    const cId = profileOf("c@example.com")?.id;
    expect(added).toEqual([
      { status: "ok", vendorId: aId },
      { status: "ok", vendorId: bId },
      { status: "ok", vendorId: cId },
      { status: "skip", reason: "no email" },
    ]);
    expect(profileOf("c@example.com")?.first_name).toBe("Cy");
    expect(callsTo("GET", "/api/profiles").map((r) => r.query.filter)).toEqual([
      'any(email,["b@example.com","c@example.com"])',
    ]);
    expect(mock.listMembers("tessera_vip")).toEqual(["a@example.com", "b@example.com", "c@example.com"]);

    const removed = await klaviyo.applyMemberships(ctx, VIP, [
      { identity: who("a@example.com", aId), member: false },
      { identity: who("c@example.com"), member: false },
      { identity: who("zed@example.com"), member: false },
      { identity: who("d@example.com"), member: true },
    ]);

    expect(removed.map((o) => o.status)).toEqual(["ok", "ok", "ok", "ok"]);
    expect(mock.listMembers("tessera_vip")).toEqual(["b@example.com", "d@example.com"]);
    // Someone Klaviyo never had is already out of the list: nothing is created for them.
    expect(profileOf("zed@example.com")).toBeUndefined();
  });

  it("fails only the contact whose Klaviyo id is unknown, and lists the others", async () => {
    const ctx = contextFor();
    const [b] = await upsert(["b@example.com"], ctx);

    const outcomes = await klaviyo.applyMemberships(ctx, VIP, [
      { identity: who("a@example.com", "01JNOSUCHPROFILE"), member: true },
      { identity: who("b@example.com", b.status === "ok" ? b.vendorId : undefined), member: true },
    ]);

    expect(outcomes[0]).toMatchObject({ status: "fail", code: "not_found" });
    expect(outcomes[1]).toMatchObject({ status: "ok" });
    expect(mock.listMembers("tessera_vip")).toEqual(["b@example.com"]);
  });

  it("finds or creates the list again when it was deleted in Klaviyo", async () => {
    const store = new Map<string, string>();
    await klaviyo.applyMemberships(contextFor({}, store), VIP, [{ identity: who("a@example.com"), member: true }]);
    const [old] = mock.lists("tessera_vip");
    const deleted = await fetch(`${mock.url}/api/lists/${old.id}`, {
      method: "DELETE",
      headers: { authorization: `Klaviyo-API-Key ${mock.apiKey}`, revision: "2026-07-15" },
    });
    expect(deleted.status).toBe(204);

    const [outcome] = await klaviyo.applyMemberships(contextFor({}, store), VIP, [
      { identity: who("b@example.com"), member: true },
    ]);

    expect(outcome.status).toBe("ok");
    expect(mock.lists("tessera_vip")).toHaveLength(1);
    expect(mock.lists("tessera_vip")[0].id).not.toBe(old.id);
    expect(mock.listMembers("tessera_vip")).toEqual(["b@example.com"]);
  });
});

describe("klaviyo bulk import jobs", () => {
  const JOBS = "/api/profile-bulk-import-jobs";
  const emails = (n: number, prefix = "m") => Array.from({ length: n }, (_, i) => `${prefix}${i}@example.com`);
  const entering = (list: string[]) =>
    list.map((email) => ({ identity: who(email), member: true, traits: { first_name: email.split("@")[0] } }));
  const jobsDone = () =>
    pollUntil(
      async () => mock.bulkImportJobs(),
      (jobs) => jobs.every((j) => j.status === "complete"),
      { within: 10_000 },
    );

  it("fills a list of 2,000 in a handful of requests, the way a drain calls it, and lists every member", async () => {
    const ctx = contextFor();
    const members = emails(2000);
    const outcomes = [];
    // As a drain of a backlog does: its rows' contacts upserted (one call), then the audience's list changes in
    // membership batches, each carrying the id the upsert answered (none from a job).
    for (let start = 0; start < members.length; start += klaviyo.limits.membershipBatch) {
      const chunk = members.slice(start, start + klaviyo.limits.membershipBatch);
      expect(chunk.length).toBeLessThanOrEqual(klaviyo.limits.upsertBatch);
      const upserted = await upsert(chunk, ctx);
      const ops = entering(chunk).map((op, k) => {
        const o = upserted[k];
        return { ...op, identity: { ...op.identity, vendorId: o.status === "ok" ? o.vendorId : undefined } };
      });
      outcomes.push(...upserted, ...(await klaviyo.applyMemberships(ctx, VIP, ops)));
    }

    expect(outcomes.every((o) => o.status === "ok")).toBe(true);
    expect(outcomes[0]).toMatchObject({ note: expect.stringContaining("bulk import job") });
    expect(callsTo("POST", "/api/profile-import")).toHaveLength(0);
    expect(callsTo("POST", /relationships/)).toHaveLength(0);
    // Two jobs a thousand (the upsert's, the list's), the list looked up and created: 6 requests, not 4,000.
    expect(callsTo("POST", JOBS)).toHaveLength(4);
    expect(mock.requests).toHaveLength(6);
    await jobsDone();
    expect(mock.listMembers("tessera_vip")).toEqual([...members].sort());
    expect(profileOf("m1999@example.com")).toMatchObject({ first_name: "m1999" });
  });

  it("fails only the profile a job's 400 points at, and sends its siblings again at once", async () => {
    const members = emails(150);
    members[42] = "not-an-email";
    const ops = entering(members);
    ops[7] = { ...ops[7], identity: { profileId: "p_none" } };

    const outcomes = await klaviyo.applyMemberships(contextFor(), VIP, ops);

    expect(outcomes[42]).toMatchObject({
      status: "fail",
      code: "invalid_identity",
      message: expect.stringContaining("/data/attributes/profiles/data/41/attributes/email"),
    });
    expect(outcomes[7]).toEqual({ status: "skip", reason: "no email" });
    expect(outcomes.filter((o) => o.status === "ok")).toHaveLength(148);
    const jobs = callsTo("POST", JOBS);
    expect(jobs.map((r) => r.status)).toEqual([400, 202]);
    expect(JSON.parse(jobs[1].body).data.attributes.profiles.data).toHaveLength(148);
    await jobsDone();
    expect(mock.listMembers("tessera_vip")).toHaveLength(148);
    expect(mock.listMembers("tessera_vip")).not.toContain("not-an-email");
  });

  it("keeps one entering contact, and any call under the threshold, on profile-import with its id at once", async () => {
    const [one] = await klaviyo.applyMemberships(contextFor(), VIP, entering(["ada@example.com"]));
    expect(one).toEqual({ status: "ok", vendorId: profileOf("ada@example.com")?.id });
    expect(callsTo("POST", "/api/profile-import")).toHaveLength(1);

    mock.setRateLimiting(false);
    try {
      const below = await upsert(emails(BULK_IMPORT_FROM - 1, "b"));
      expect(below.every((o) => o.status === "ok" && o.vendorId)).toBe(true);
      expect(callsTo("POST", "/api/profile-import")).toHaveLength(BULK_IMPORT_FROM);
      expect(callsTo("POST", JOBS)).toHaveLength(0);

      await upsert(emails(BULK_IMPORT_FROM, "c"));
      expect(callsTo("POST", "/api/profile-import")).toHaveLength(BULK_IMPORT_FROM);
      expect(callsTo("POST", JOBS)).toHaveLength(1);
    } finally {
      mock.setRateLimiting(true);
    }
  });

  it("names each profile a finished job failed, by the email sent, from the job's import errors (K6)", async () => {
    const ctx = contextFor();
    // Klaviyo holds the email and the phone as two profiles: one profile with both fails while the job runs.
    await klaviyo.upsertContacts(ctx, [{ identity: who("dup@example.com"), traits: {} }]);
    await klaviyo.upsertContacts(ctx, [{ identity: who("other@example.com"), traits: { phone: "+15555550100" } }]);
    const outcomes = await klaviyo.upsertContacts(ctx, [
      ...emails(BULK_IMPORT_FROM - 1).map((email) => ({ identity: who(email), traits: {} })),
      { identity: who("dup@example.com"), traits: { phone: "+15555550100" } },
    ]);
    const [clean] = await upsert(emails(BULK_IMPORT_FROM, "c"), ctx);
    const jobOf = (o: (typeof outcomes)[number]) => (o.status === "ok" ? (o.job as string) : "");
    // Accepted: every profile `ok` with the job, the dup one too (Klaviyo has not processed it yet).
    expect(outcomes.every((o) => o.status === "ok" && o.job === jobOf(outcomes[0]))).toBe(true);
    await jobsDone();

    const job = jobOf(outcomes[0]);
    expect(await klaviyo.jobOutcome?.(ctx, job)).toEqual({
      failed: [
        {
          email: "dup@example.com",
          outcome: {
            status: "fail",
            code: "invalid_identity",
            message: expect.stringContaining(`bulk import job ${job}`),
          },
        },
      ],
      // The profiles it imported, the failed one not among them.
      vendorIds: emails(BULK_IMPORT_FROM - 1).map(idOf),
    });
    expect(await klaviyo.jobOutcome?.(ctx, jobOf(clean))).toEqual({
      failed: [],
      vendorIds: emails(BULK_IMPORT_FROM, "c").map(idOf),
    });
  });

  it("gives the Klaviyo id of each profile a job imported, a few pages a look, each look from where the last stopped", async () => {
    const ctx = contextFor();
    const members = emails(1000);
    const [accepted] = await upsert(members, ctx);
    const job = accepted.status === "ok" ? (accepted.job as string) : "";
    await jobsDone();
    const profilePages = () => callsTo("GET", `${JOBS}/${job}/profiles`);

    // 1,000 profiles are 10 pages of 100: the first look reads 8, within Klaviyo's 10 job reads a second.
    const first = await klaviyo.jobOutcome?.(ctx, job);
    expect(first).toEqual({ failed: [], vendorIds: members.slice(0, 800).map(idOf), more: true });
    expect(profilePages().map((r) => r.query)).toEqual(
      Array.from({ length: 8 }, (_, i) => ({
        "fields[profile]": "email",
        "page[size]": "100",
        ...(i > 0 && { "page[cursor]": String(i * 100) }),
      })),
    );
    expect(mock.requests.filter((r) => r.status === 429)).toEqual([]);

    // The engine's next look comes 15 s later, past Klaviyo's burst window; here at once.
    mock.setRateLimiting(false);
    try {
      // A page Klaviyo cannot answer now is read again at the next look.
      mock.fault({ match: { method: "GET", path: `${JOBS}/${job}/profiles` }, respond: { status: 503 } });
      expect(await klaviyo.jobOutcome?.(ctx, job)).toEqual({ failed: [], vendorIds: [], more: true });
      expect(await klaviyo.jobOutcome?.(ctx, job)).toEqual({ failed: [], vendorIds: members.slice(800).map(idOf) });
    } finally {
      mock.setRateLimiting(true);
    }
    // The job itself was read once: the later looks only went on through its profiles.
    expect(callsTo("GET", `${JOBS}/${job}`)).toHaveLength(1);
    expect(profilePages().map((r) => r.status)).toEqual([...Array(8).fill(200), 503, 200, 200]);
  });

  it("reports failures Klaviyo counts without naming whose, and a job still running as not done", async () => {
    const ctx = contextFor();
    mock.setBulkImportDelay(3_000);
    const [running] = await upsert(emails(BULK_IMPORT_FROM), ctx);
    const id = running.status === "ok" ? (running.job as string) : "";
    expect(await klaviyo.jobOutcome?.(ctx, id)).toBeUndefined();
    mock.fault({
      match: { method: "GET", path: `${JOBS}/${id}` },
      respond: {
        status: 200,
        body: { data: { type: "profile-bulk-import-job", id, attributes: { status: "cancelled", failed_count: 2 } } },
      },
    });
    expect(await klaviyo.jobOutcome?.(ctx, id)).toEqual({
      failed: [],
      unnamed: `2 profiles failed in Klaviyo bulk import job ${id} without an import error naming them`,
      others: { status: "retry", reason: `Klaviyo bulk import job ${id} ended cancelled` },
    });
  });

  it("finds or creates the list again when a job's list was deleted in Klaviyo", async () => {
    const store = new Map([["list:tessera_vip", "LGONE1"]]);

    const outcomes = await klaviyo.applyMemberships(contextFor({}, store), VIP, entering(emails(BULK_IMPORT_FROM)));

    expect(outcomes.every((o) => o.status === "ok")).toBe(true);
    expect(callsTo("POST", JOBS).map((r) => r.status)).toEqual([404, 202]);
    await jobsDone();
    expect(mock.listMembers("tessera_vip")).toHaveLength(BULK_IMPORT_FROM);
    expect(store.get("list:tessera_vip")).toBe(mock.lists("tessera_vip")[0].id);
  });
});

describe("the mock's bulk import jobs", () => {
  const post = (body: unknown) =>
    fetch(`${mock.url}/api/profile-bulk-import-jobs`, {
      method: "POST",
      headers: {
        authorization: `Klaviyo-API-Key ${mock.apiKey}`,
        revision: "2026-07-15",
        "content-type": "application/vnd.api+json",
      },
      body: JSON.stringify(body),
    });
  const job = (profiles: unknown[]) => ({
    data: { type: "profile-bulk-import-job", attributes: { profiles: { data: profiles } } },
  });
  const profile = (email: string, extra: Record<string, unknown> = {}) => ({
    type: "profile",
    attributes: { email, ...extra },
  });

  it("refuses more than 10,000 profiles, 5 MB, or 100 KB in one profile, and answers 202 with the job", async () => {
    const tooMany = await post(job(Array.from({ length: 10_001 }, (_, i) => profile(`x${i}@example.com`))));
    expect(tooMany.status).toBe(400);
    const big = { properties: { blob: "x".repeat(101 * 1024) } };
    const tooBig = await post(job([profile("a@example.com"), profile("b@example.com", big)]));
    expect(tooBig.status).toBe(400);
    expect((await tooBig.json()).errors.map((e: KlaviyoErr) => e.source.pointer)).toEqual([
      "/data/attributes/profiles/data/1",
    ]);
    const huge = Array.from({ length: 60 }, (_, i) => profile(`h${i}@example.com`, big));
    expect((await post(job(huge))).status).toBe(413);

    const accepted = await post(job([profile("a@example.com")]));
    expect(accepted.status).toBe(202);
    const { data } = await accepted.json();
    expect(data).toMatchObject({
      type: "profile-bulk-import-job",
      attributes: { status: "queued", total_count: 1, completed_count: 0, failed_count: 0, completed_at: null },
    });
    const done = await pollUntil(
      async () =>
        (
          await (
            await fetch(`${mock.url}/api/profile-bulk-import-jobs/${data.id}`, {
              headers: { authorization: `Klaviyo-API-Key ${mock.apiKey}`, revision: "2026-07-15" },
            })
          ).json()
        ).data,
      (d) => d.attributes.status === "complete",
      { within: 5_000 },
    );
    expect(done.attributes).toMatchObject({ completed_count: 1, failed_count: 0 });
    expect(profileOf("a@example.com")).toBeDefined();
  });

  it("writes a job's profiles when it runs, over a profile-import received after the job", async () => {
    mock.setBulkImportDelay(60_000);
    expect((await post(job([profile("ada@example.com", { first_name: "Old" })]))).status).toBe(202);
    await klaviyo.upsertContacts(contextFor(), [{ identity: who("ada@example.com"), traits: { first_name: "New" } }]);
    expect(profileOf("ada@example.com")).toMatchObject({ first_name: "New" });

    expect(mock.runBulkImportJobs()).toBe(1);

    expect(profileOf("ada@example.com")).toMatchObject({ first_name: "Old" });
    expect(mock.bulkImportJobs()[0]).toMatchObject({ status: "complete", completed_count: 1 });
  });

  it("throttles at 10 jobs a second, as Klaviyo's bulk import does", async () => {
    const statuses = [];
    for (let i = 0; i < 11; i++) statuses.push((await post(job([profile(`t${i}@example.com`)]))).status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(10);
    expect(statuses.at(-1)).toBe(429);
  });
});

describe("klaviyo throttling and errors", () => {
  it("throws Throttled with Retry-After's delay on a 429, and sends nothing more", async () => {
    mock.fault({
      match: { method: "POST", path: "/api/profile-import" },
      times: 100,
      respond: {
        status: 429,
        headers: { "Retry-After": "7" },
        body: { errors: [{ id: "e1", status: 429, code: "throttled", title: "Request was throttled.", detail: "" }] },
      },
    });
    const emails = Array.from({ length: 20 }, (_, i) => `u${i}@example.com`);

    const error = await upsert(emails).catch((e) => e);

    expect(error).toBeInstanceOf(Throttled);
    expect(error.retryAfterMs).toBe(7000);
    expect(callsTo("POST", "/api/profile-import").length).toBeLessThan(emails.length);
  });

  it("throws Throttled for the mock's steady window, with the Retry-After it sent", async () => {
    const strict = await startMockKlaviyo({ rateLimits: { relationships: { burst: 10, steady: 2 } } });
    let retryAfter: string | null = null;
    const remaining: Array<string | null> = [];
    const watching: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (res.status === 429) retryAfter = res.headers.get("retry-after");
      else remaining.push(res.headers.get("ratelimit-remaining"));
      return res;
    };
    const ctx = { ...contextFor({ base_url: strict.url }, new Map(), watching) };
    try {
      for (const email of ["a@example.com", "b@example.com"])
        await klaviyo.applyMemberships(ctx, VIP, [{ identity: who(email), member: true }]);
      const error = await klaviyo
        .applyMemberships(ctx, VIP, [{ identity: who("c@example.com"), member: true }])
        .catch((e) => e);

      expect(error).toBeInstanceOf(Throttled);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(error.retryAfterMs).toBe(Number(retryAfter) * 1000);
      expect(remaining).toContain("0");
      expect(strict.listMembers("tessera_vip")).toEqual(["a@example.com", "b@example.com"]);
    } finally {
      await strict.stop();
    }
  });

  it("retries an item on 5xx (honouring Retry-After) and on no answer at all", async () => {
    mock.fault({
      match: { method: "POST", path: "/api/profile-import" },
      respond: { status: 503, headers: { "Retry-After": "3" }, body: { errors: [] } },
    });
    expect(await upsert(["a@example.com"])).toEqual([
      { status: "retry", reason: expect.stringContaining("503"), retryAfterMs: 3000 },
    ]);
    expect((await upsert(["a@example.com"]))[0].status).toBe("ok");

    mock.fault({ match: { method: "POST", path: /\/relationships\/profiles$/ }, respond: { status: 502 } });
    const outcomes = await klaviyo.applyMemberships(contextFor(), VIP, [
      { identity: who("a@example.com"), member: true },
      { identity: who("b@example.com"), member: true },
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["retry", "retry"]);

    const closed = contextFor({ base_url: "http://127.0.0.1:1" });
    expect((await upsert(["a@example.com"], closed))[0]).toMatchObject({ status: "retry" });
  });

  it("throws AuthRefused on 401 and 403; testConnection passes with a good key", async () => {
    const wrong = contextFor({ api_key: "pk_wrong" });
    await expect(upsert(["a@example.com"], wrong)).rejects.toBeInstanceOf(AuthRefused);
    await expect(klaviyo.testConnection(wrong)).rejects.toBeInstanceOf(AuthRefused);
    await expect(
      klaviyo.applyMemberships(wrong, VIP, [{ identity: who("a@example.com"), member: true }]),
    ).rejects.toBeInstanceOf(AuthRefused);

    mock.fault({
      match: { method: "POST", path: "/api/data-privacy-deletion-jobs" },
      respond: { status: 403, body: { errors: [{ code: "permission_denied", detail: "missing scope" }] } },
    });
    await expect(klaviyo.deleteContact(contextFor(), person(["a@example.com"]))).rejects.toThrow(/missing scope/);

    await expect(klaviyo.testConnection(contextFor())).resolves.toBeUndefined();
  });
});

describe("klaviyo.deleteContact", () => {
  it("starts a data-privacy deletion job by email, which removes the profile and its memberships", async () => {
    const ctx = contextFor();
    await klaviyo.applyMemberships(ctx, VIP, [{ identity: who("ada@example.com"), member: true }]);

    expect(await klaviyo.deleteContact(ctx, person(["ada@example.com"]))).toEqual({ status: "ok" });

    const [job] = callsTo("POST", "/api/data-privacy-deletion-jobs");
    expect(JSON.parse(job.body)).toEqual({
      data: {
        type: "data-privacy-deletion-job",
        attributes: { profile: { data: { type: "profile", attributes: { email: "ada@example.com" } } } },
      },
    });
    expect(profileOf("ada@example.com")).toBeUndefined();
    expect(mock.listMembers("tessera_vip")).toEqual([]);
  });

  it("deletes by Klaviyo id without an email, and skips a contact with neither", async () => {
    const [a] = await upsert(["a@example.com"]);
    const id = a.status === "ok" ? (a.vendorId as string) : "";

    expect(await klaviyo.deleteContact(contextFor(), person([], [id]))).toEqual({ status: "ok" });
    expect(mock.deletionJobs()).toEqual([{ id }]);
    expect(mock.profiles()).toEqual([]);
    expect((await klaviyo.deleteContact(contextFor(), person([]))).status).toBe("skip");
  });

  it("starts a deletion job for every email a merged person had, and each Klaviyo id recorded", async () => {
    const [, , renamed] = await upsert(["a@example.com", "b@example.com", "renamed@example.com", "stays@example.com"]);
    const id = renamed.status === "ok" ? (renamed.vendorId as string) : "";

    expect(await klaviyo.deleteContact(contextFor(), person(["a@example.com", "b@example.com"], [id]))).toEqual({
      status: "ok",
    });
    expect(mock.deletionJobs()).toEqual([{ email: "a@example.com" }, { email: "b@example.com" }, { id }]);
    expect(mock.profiles().map((p) => p.email)).toEqual(["stays@example.com"]);
  });
});

describe("klaviyoInbound", () => {
  const config: KlaviyoConfig = { api_key: "pk_test", webhook_secret: "whsec_klaviyo_test" };
  const rawOf = (r: RecordedRequest): RawInbound => ({
    method: r.method,
    url: `${receiver.url}${r.path}`,
    headers: new Headers(r.headers),
    body: new TextEncoder().encode(r.body),
  });
  const rawFrom = ({ headers, body }: { headers: Record<string, string>; body: string }): RawInbound => ({
    method: "POST",
    url: `${receiver.url}/hooks/klaviyo`,
    headers: new Headers(headers),
    body: new TextEncoder().encode(body),
  });

  it("verifies a webhook the mock sends over HTTP, signed as Klaviyo signs it", async () => {
    const res = await mock.emitWebhook(
      `${receiver.url}/hooks/klaviyo`,
      [{ topic: "opened_email", profileId: "01JPROFILE", email: "ada@example.com" }],
      config.webhook_secret as string,
    );
    expect(res.status).toBe(204);

    const [delivered] = receiver.requests;
    expect(delivered.headers["klaviyo-timestamp"]).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    expect(await klaviyoInbound.verify(rawOf(delivered), config, Date.now())).toEqual({ ok: true });
  });

  it("refuses a wrong secret, a stale or tampered request, another webhook's id, and missing headers", async () => {
    const events = [{ topic: "clicked_email", id: "e1", profileId: "01JPROFILE" }];
    const secret = config.webhook_secret as string;
    const reasonOf = async (req: RawInbound, cfg = config) => {
      const result = await klaviyoInbound.verify(req, cfg, Date.now());
      return result.ok ? "ok" : result.reason;
    };

    expect(await reasonOf(rawFrom(await klaviyoWebhook(events, "another secret")))).toMatch(/signature/);
    const fourMinutesAgo = new Date(Date.now() - 4 * 60_000);
    const sixMinutesAgo = new Date(Date.now() - 6 * 60_000);
    expect(await reasonOf(rawFrom(await klaviyoWebhook(events, secret, { at: fourMinutesAgo })))).toBe("ok");
    expect(await reasonOf(rawFrom(await klaviyoWebhook(events, secret, { at: sixMinutesAgo })))).toMatch(/window/);

    const signed = await klaviyoWebhook(events, secret);
    const tampered = { ...signed, body: signed.body.replace("clicked_email", "opened_email") };
    expect(await reasonOf(rawFrom(tampered))).toMatch(/signature/);
    const relabelled = { ...signed, headers: { ...signed.headers, "Klaviyo-Webhook-Id": "01JOTHERWEBHOOK" } };
    expect(await reasonOf(rawFrom(relabelled))).toMatch(/Webhook-Id/);
    const { "Klaviyo-Signature": _, ...unsigned } = signed.headers;
    expect(await reasonOf(rawFrom({ ...signed, headers: unsigned }))).toMatch(/missing/);
    expect(await reasonOf(rawFrom(signed), { api_key: "pk_test" })).toMatch(/webhook_secret/);
    expect(await reasonOf(rawFrom(signed))).toBe("ok");

    // A timestamp spelled as Unix seconds is signed and checked verbatim too.
    const seconds = String(Math.floor(Date.now() / 1000));
    const signature = toHex(await hmacSha256(secret, concatBytes(signed.body, seconds)));
    const headers = { ...signed.headers, "Klaviyo-Timestamp": seconds, "Klaviyo-Signature": signature };
    expect(await reasonOf(rawFrom({ headers, body: signed.body }))).toBe("ok");
  });

  it("parses each known topic into a Segment email event and leaves the others out", async () => {
    const at = "2026-07-20T10:00:00.000Z";
    const on = { profileId: "01JPROFILE", email: "Ada@Example.com", datetime: at };
    const request = await klaviyoWebhook(
      [
        { ...on, id: "e1", topic: "received_email", properties: { Subject: "Hello", "Campaign Name": "Spring" } },
        { ...on, id: "e2", topic: "opened_email", properties: { $message: "msg1" } },
        { ...on, id: "e3", topic: "clicked_email", properties: { URL: "https://example.com/a" } },
        { ...on, id: "e4", topic: "bounced_email", properties: { "Bounce Type": "hard" } },
        { ...on, id: "e5", topic: "marked_email_as_spam" },
        { ...on, id: "e6", topic: "unsubscribed_from_email_marketing" },
        { ...on, id: "e7", topic: "unsubscribed" },
        { ...on, id: "e8", topic: "placed_order" },
        { ...on, id: "e9", topic: "event:shopify.opened_email" },
        { id: "e10", topic: "opened_email", datetime: at },
      ],
      config.webhook_secret as string,
    );

    const engagements = klaviyoInbound.parse(rawFrom(request));

    const about = { email: "ada@example.com", vendorId: "01JPROFILE", occurredAt: at };
    expect(engagements).toEqual([
      {
        ...about,
        vendorEventId: "e1",
        event: "Email Delivered",
        properties: { email_subject: "Hello", campaign_name: "Spring" },
      },
      { ...about, vendorEventId: "e2", event: "Email Opened", properties: { email_id: "msg1" } },
      {
        ...about,
        vendorEventId: "e3",
        event: "Email Link Clicked",
        properties: { link_url: "https://example.com/a" },
      },
      { ...about, vendorEventId: "e4", event: "Email Bounced", properties: { bounce_type: "hard" } },
      { ...about, vendorEventId: "e5", event: "Email Marked as Spam", properties: {} },
      { ...about, vendorEventId: "e6", event: "Unsubscribed", properties: {} },
      { ...about, vendorEventId: "e7", event: "Unsubscribed", properties: {} },
      { vendorEventId: "e10", event: "Email Opened", occurredAt: at, properties: {} },
    ]);
  });
});
