import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { type HubSpotConfig, hubspot } from "../../workers/sync/destinations/hubspot";
import { hubspotInbound } from "../../workers/sync/inbound/hubspot";
import { hubspotPoller } from "../../workers/sync/inbound/hubspot-poller";
import { rawInbound } from "../../workers/sync/inbound/read";
import {
  type AudienceList,
  AuthRefused,
  type ContactIdentity,
  type ContactUpsert,
  type Engagement,
  type ErasedContact,
  type MembershipOp,
  type PluginContext,
  type RawInbound,
  Throttled,
} from "../../workers/sync/plugin";
import { type MockHubSpot, startMockHubSpot } from "../support/mocks/hubspot";
import { startMockVendor } from "../support/mocks/mock-vendor";

const UPSERT = "/crm/v3/objects/contacts/batch/upsert";
const LISTS = "/crm/v3/lists";
const VIP: AudienceList = { key: "vip", name: "tessera_vip" };

const hs = await startMockHubSpot({ customProperties: ["plan", "tags", "prefs", "score", "vip"], eventsPageSize: 2 });
afterAll(() => hs.stop());
beforeEach(() => hs.reset());

function memoryStore(): PluginContext<HubSpotConfig>["store"] {
  const values = new Map<string, string>();
  return {
    get: async (key) => values.get(key),
    put: async (key, value) => {
      values.set(key, value);
    },
  };
}

function contextFor(
  mock: MockHubSpot,
  overrides: Partial<Omit<PluginContext<HubSpotConfig>, "config">> & { config?: Partial<HubSpotConfig> } = {},
): PluginContext<HubSpotConfig> {
  return {
    fetch,
    now: Date.now,
    store: memoryStore(),
    ...overrides,
    config: { access_token: mock.token, base_url: mock.url, ...overrides.config },
  };
}

const contact = (email: string | undefined, traits: Record<string, unknown> = {}): ContactUpsert => ({
  identity: { profileId: `prof_${email}`, email },
  traits,
});

const change = (member: boolean, identity: Omit<ContactIdentity, "profileId">): MembershipOp => ({
  identity: { profileId: `prof_${identity.email ?? identity.vendorId}`, ...identity },
  member,
});

const calls = (mock: MockHubSpot, method: string, path: string | RegExp) =>
  mock.requests.filter((r) => r.method === method && (typeof path === "string" ? r.path === path : path.test(r.path)));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A GDPR delete of a person who had these emails, and these vendor ids recorded. */
const person = (emails: string[], vendorIds: string[] = []): ErasedContact => ({
  profileId: "p",
  emails,
  vendorIds,
  identifiers: emails.map((value) => ({ type: "email", value })),
});

describe("hubspot destination: config and connection", () => {
  it("names the first config problem as field: reason", () => {
    expect(hubspot.validateConfig(null)).toBe("config: must be an object");
    expect(hubspot.validateConfig({})).toBe("access_token: is required");
    expect(hubspot.validateConfig({ access_token: " " })).toBe("access_token: is required");
    expect(hubspot.validateConfig({ access_token: "t", base_url: "ftp://x" })).toBe("base_url: must be an http(s) URL");
    expect(hubspot.validateConfig({ access_token: "t", client_secret: 5 })).toBe("client_secret: must be a string");
    expect(hubspot.validateConfig({ access_token: "t", base_url: hs.url, client_secret: "s" })).toBeNull();
    expect(hubspot.secretFields).toEqual(["access_token", "client_secret"]);
  });

  it("tests the connection with the token and refuses a wrong one", async () => {
    await expect(hubspot.testConnection(contextFor(hs))).resolves.toBeUndefined();
    expect(hs.requests[0].headers.authorization).toBe(`Bearer ${hs.token}`);
    await expect(hubspot.testConnection(contextFor(hs, { config: { access_token: "nope" } }))).rejects.toBeInstanceOf(
      AuthRefused,
    );
  });
});

describe("hubspot destination: upsertContacts", () => {
  it("gives one outcome per item in order: ok with the record id, per-item fail, skip", async () => {
    const ctx = contextFor(hs);
    const [grace] = await hubspot.upsertContacts(ctx, [contact("grace@example.com")]);
    const outcomes = await hubspot.upsertContacts(ctx, [
      contact("ada@example.com", {
        first_name: "Ada",
        last_name: "Lovelace",
        title: "Engineer",
        phone: "+44 20 0000",
        company: "Analytical",
        city: "London",
        country: "UK",
        plan: "pro",
        tags: ["a", "b"],
        prefs: { x: 1 },
        score: 42,
        vip: true,
        email: "ignored@example.com",
      }),
      contact("not-an-email"),
      contact(undefined, { first_name: "Nobody" }),
      contact("grace@example.com", { city: "Arlington" }),
      contact("bob@example.com", { favourite_colour: "teal" }),
    ]);

    expect(outcomes).toEqual([
      { status: "ok", vendorId: expect.any(String) },
      { status: "fail", code: "invalid_identity", message: expect.stringContaining("INVALID_EMAIL") },
      { status: "skip", reason: "profile has no email" },
      grace,
      { status: "ok", vendorId: expect.any(String), note: expect.stringContaining("favourite_colour") },
    ]);
    // The 207 refused bob for his unknown property: he alone goes again, without it.
    expect(calls(hs, "POST", UPSERT)).toHaveLength(3);
    const stored = Object.fromEntries(hs.contacts().map((c) => [c.properties.email, c]));
    expect(Object.keys(stored).sort()).toEqual(["ada@example.com", "bob@example.com", "grace@example.com"]);
    expect(stored["ada@example.com"].id).toBe((outcomes[0] as { vendorId: string }).vendorId);
    expect(stored["ada@example.com"].properties).toMatchObject({
      firstname: "Ada",
      lastname: "Lovelace",
      jobtitle: "Engineer",
      phone: "+44 20 0000",
      company: "Analytical",
      city: "London",
      country: "UK",
      plan: "pro",
      tags: "a;b",
      prefs: '{"x":1}',
      score: "42",
      vip: "true",
    });
    expect(stored["grace@example.com"].properties.city).toBe("Arlington");
  });

  it("matches an existing contact whatever the case of its email", async () => {
    const seeded = await fetch(`${hs.url}${UPSERT}`, {
      method: "POST",
      headers: { authorization: `Bearer ${hs.token}`, "content-type": "application/json" },
      body: JSON.stringify({ inputs: [{ idProperty: "email", id: "Mixed@Example.COM", properties: {} }] }),
    });
    const { results } = (await seeded.json()) as { results: Array<{ id: string }> };
    const [outcome] = await hubspot.upsertContacts(contextFor(hs), [contact("mixed@example.com", { plan: "x" })]);
    expect(outcome).toEqual({ status: "ok", vendorId: results[0].id });
    expect(hs.contacts()).toHaveLength(1);
  });

  it("keeps the siblings when HubSpot refuses a whole batch for one contact it does not name", async () => {
    const strict = await startMockHubSpot({ batchErrors: "400" });
    try {
      const emails = ["a@example.com", "b@example.com", "bad@nowhere", "c@example.com", "d@example.com"];
      const outcomes = await hubspot.upsertContacts(
        contextFor(strict),
        emails.map((e) => contact(e)),
      );
      expect(outcomes.map((o) => o.status)).toEqual(["ok", "ok", "fail", "ok", "ok"]);
      expect(outcomes[2]).toMatchObject({ code: "invalid_identity" });
      expect(
        strict
          .contacts()
          .map((c) => c.properties.email)
          .sort(),
      ).toEqual(emails.filter((e) => e !== "bad@nowhere").sort());
    } finally {
      await strict.stop();
    }
  });

  it("leaves out a property HubSpot lacks, says so, upserts the contacts, and remembers it for later batches", async () => {
    const ctx = contextFor(hs);
    const items = ["a@example.com", "b@example.com", "c@example.com"].map((e) =>
      contact(e, { first_name: e[0].toUpperCase(), lifetime_value: 120 }),
    );
    const outcomes = await hubspot.upsertContacts(ctx, items);
    const note = "HubSpot has no property lifetime_value: left out (create the property in HubSpot to sync it)";
    expect(outcomes).toEqual(items.map(() => ({ status: "ok", vendorId: expect.any(String), note })));
    expect(
      hs
        .contacts()
        .map((c) => [c.properties.email, c.properties.firstname, c.properties.lifetime_value])
        .sort(),
    ).toEqual([
      ["a@example.com", "A", undefined],
      ["b@example.com", "B", undefined],
      ["c@example.com", "C", undefined],
    ]);
    const sent = () => calls(hs, "POST", UPSERT).map((r) => JSON.parse(r.body).inputs[0].properties);
    expect(sent()).toEqual([
      { firstname: "A", lifetime_value: "120", email: "a@example.com" },
      { firstname: "A", email: "a@example.com" },
    ]);
    // The next batch of this destination leaves it out at once: no refused call first.
    const [later] = await hubspot.upsertContacts(ctx, [contact("d@example.com", { lifetime_value: 5, city: "Oslo" })]);
    expect(later).toEqual({ status: "ok", vendorId: expect.any(String), note });
    expect(sent()).toHaveLength(3);
    expect(sent()[2]).toEqual({ city: "Oslo", email: "d@example.com" });
    // A contact without the property gets no note.
    expect(await hubspot.upsertContacts(ctx, [contact("e@example.com", { city: "Rome" })])).toEqual([
      { status: "ok", vendorId: expect.any(String) },
    ]);
  });

  it("leaves out unknown properties when HubSpot refuses the whole batch for them (400), naming several", async () => {
    const strict = await startMockHubSpot({ batchErrors: "400" });
    try {
      const items = ["a@example.com", "b@example.com", "c@example.com", "d@example.com"].map((e) =>
        contact(e, { first_name: "X", lifetime_value: 1, churn_risk: "low" }),
      );
      const outcomes = await hubspot.upsertContacts(contextFor(strict), items);
      const note =
        "HubSpot has no properties lifetime_value, churn_risk: left out (create the properties in HubSpot to sync them)";
      expect(outcomes).toEqual(items.map(() => ({ status: "ok", vendorId: expect.any(String), note })));
      expect(strict.contacts()).toHaveLength(4);
      expect(calls(strict, "POST", UPSERT)).toHaveLength(2);
    } finally {
      await strict.stop();
    }
  });

  it("reads the unknown properties from the errors[] details of HubSpot's error envelope too", async () => {
    hs.fault({
      match: { path: UPSERT },
      respond: {
        status: 400,
        body: {
          status: "error",
          category: "VALIDATION_ERROR",
          message: "Property values were not valid",
          correlationId: "c0ffee",
          errors: [
            {
              message: 'Property "ltv" does not exist',
              code: "PROPERTY_DOESNT_EXIST",
              context: { propertyName: ["ltv"] },
            },
          ],
        },
      },
    });
    const [outcome] = await hubspot.upsertContacts(contextFor(hs), [
      contact("a@example.com", { ltv: 3, city: "Oslo" }),
    ]);
    expect(outcome).toEqual({
      status: "ok",
      vendorId: expect.any(String),
      note: expect.stringContaining("property ltv"),
    });
    expect(hs.contacts()[0].properties.city).toBe("Oslo");
  });

  it("never drops the email however HubSpot words its refusal, and fails what it still refuses", async () => {
    hs.fault({
      match: { path: UPSERT },
      times: 3,
      respond: {
        status: 400,
        body: {
          status: "error",
          category: "VALIDATION_ERROR",
          message: 'Property values were not valid: [{"isValid":false,"error":"PROPERTY_DOESNT_EXIST","name":"email"}]',
        },
      },
    });
    const [outcome] = await hubspot.upsertContacts(contextFor(hs), [contact("a@example.com", { city: "Oslo" })]);
    expect(outcome).toMatchObject({ status: "fail", code: "invalid_payload" });
    expect(calls(hs, "POST", UPSERT)).toHaveLength(1);
  });

  it("never sends more than 100 inputs in one call", async () => {
    const items = Array.from({ length: 150 }, (_, i) => contact(`user${i}@example.com`));
    const outcomes = await hubspot.upsertContacts(contextFor(hs), items);
    const sizes = calls(hs, "POST", UPSERT).map((r) => (JSON.parse(r.body) as { inputs: unknown[] }).inputs.length);
    expect(sizes).toEqual([100, 50]);
    expect(outcomes.every((o) => o.status === "ok")).toBe(true);
    expect(new Set(outcomes.map((o) => (o as { vendorId: string }).vendorId)).size).toBe(150);
  });

  it("sends one input for two items with the same email, and both get its record id", async () => {
    const outcomes = await hubspot.upsertContacts(contextFor(hs), [
      contact("twin@example.com", { first_name: "A" }),
      contact("twin@example.com", { last_name: "B" }),
    ]);
    expect(outcomes[0]).toEqual({ status: "ok", vendorId: expect.any(String) });
    expect(outcomes[1]).toEqual(outcomes[0]);
    const [request] = calls(hs, "POST", UPSERT);
    expect(JSON.parse(request.body).inputs).toEqual([
      {
        idProperty: "email",
        id: "twin@example.com",
        properties: { firstname: "A", lastname: "B", email: "twin@example.com" },
      },
    ]);
  });

  it("retries the contacts HubSpot's answer leaves out", async () => {
    hs.fault({ match: { path: UPSERT }, respond: { status: 200, body: { status: "COMPLETE", results: [] } } });
    const outcomes = await hubspot.upsertContacts(contextFor(hs), [contact("a@example.com")]);
    expect(outcomes).toEqual([{ status: "retry", reason: expect.stringContaining("did not mention") }]);
  });

  it("answers a 5xx and a timeout with per-item retry, leaving skips as skips", async () => {
    hs.fault({ match: { path: UPSERT }, respond: { status: 502, body: { status: "error", message: "Bad Gateway" } } });
    const items = [contact("a@example.com"), contact(undefined), contact("b@example.com")];
    expect(await hubspot.upsertContacts(contextFor(hs), items)).toEqual([
      { status: "retry", reason: "HubSpot 502: Bad Gateway" },
      { status: "skip", reason: "profile has no email" },
      { status: "retry", reason: "HubSpot 502: Bad Gateway" },
    ]);

    const timingOut: typeof fetch = async () => {
      throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
    };
    const outcomes = await hubspot.upsertContacts(contextFor(hs, { fetch: timingOut }), items);
    expect(outcomes.map((o) => o.status)).toEqual(["retry", "skip", "retry"]);
    expect(outcomes[0]).toMatchObject({ reason: expect.stringContaining("did not answer") });
  });

  it("retries a 423 Locked after about two seconds", async () => {
    hs.fault({ match: { path: UPSERT }, respond: { status: 423, body: { status: "error", message: "Locked" } } });
    const [outcome] = await hubspot.upsertContacts(contextFor(hs), [contact("a@example.com")]);
    expect(outcome).toEqual({ status: "retry", reason: "HubSpot 423: Locked", retryAfterMs: 2000 });
  });

  it("throws AuthRefused on 401 and on 403 (missing scopes)", async () => {
    const wrong = contextFor(hs, { config: { access_token: "expired" } });
    await expect(hubspot.upsertContacts(wrong, [contact("a@example.com")])).rejects.toBeInstanceOf(AuthRefused);
    await expect(hubspot.applyMemberships(wrong, VIP, [change(true, { vendorId: "1" })])).rejects.toBeInstanceOf(
      AuthRefused,
    );
    await expect(hubspot.deleteContact(wrong, person(["a@example.com"]))).rejects.toBeInstanceOf(AuthRefused);
    hs.fault({
      match: { path: UPSERT },
      respond: { status: 403, body: { status: "error", message: "missing scopes", category: "MISSING_SCOPES" } },
    });
    await expect(hubspot.upsertContacts(contextFor(hs), [contact("a@example.com")])).rejects.toThrow(
      "HubSpot 403 MISSING_SCOPES: missing scopes",
    );
  });
});

describe("hubspot destination: throttling", () => {
  it("throws Throttled with HubSpot's interval in a 429 storm, and nothing is lost once it has passed", async () => {
    const storm = await startMockHubSpot({ rateLimit: { limit: 5, windowMs: 2000 } });
    try {
      const ctx = contextFor(storm);
      const emails = Array.from({ length: 10 }, (_, i) => `storm${i}@example.com`);
      const first = await Promise.allSettled(emails.map((e) => hubspot.upsertContacts(ctx, [contact(e)])));
      const throttled = emails.filter((_, i) => first[i].status === "rejected");
      expect(throttled.length).toBeGreaterThanOrEqual(5);
      const errors = first.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
      expect(errors.every((e) => e instanceof Throttled && e.retryAfterMs === 2000)).toBe(true);

      // HubSpot's own answer: the ten-secondly policy, its headers, and no Retry-After.
      const answer = await fetch(`${storm.url}/crm/v3/objects/contacts`, {
        headers: { authorization: `Bearer ${storm.token}` },
      });
      expect(answer.status).toBe(429);
      expect(await answer.json()).toMatchObject({ errorType: "RATE_LIMIT", policyName: "TEN_SECONDLY_ROLLING" });
      expect(answer.headers.get("X-HubSpot-RateLimit-Remaining")).toBe("0");
      expect(answer.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")).toBe("2000");
      expect(answer.headers.get("Retry-After")).toBeNull();

      await sleep((errors[0] as Throttled).retryAfterMs);
      const replayed = await Promise.all(throttled.map((e) => hubspot.upsertContacts(ctx, [contact(e)])));
      expect(replayed.flat().every((o) => o.status === "ok")).toBe(true);
      expect(
        storm
          .contacts()
          .map((c) => c.properties.email)
          .sort(),
      ).toEqual([...emails].sort());
    } finally {
      await storm.stop();
    }
  });

  it("waits until the next top of the hour under the DAILY policy", async () => {
    const daily = await startMockHubSpot({ dailyLimit: 2 });
    try {
      const tenFifteen = Date.UTC(2026, 0, 1, 10, 15, 0);
      const ctx = contextFor(daily, { now: () => tenFifteen });
      await hubspot.testConnection(ctx);
      await hubspot.testConnection(ctx);
      const error = await hubspot.testConnection(ctx).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Throttled);
      expect((error as Throttled).retryAfterMs).toBe(45 * 60_000);
    } finally {
      await daily.stop();
    }
  });

  it("waits HubSpot's ten seconds when a 429 lacks the interval header", async () => {
    hs.fault({ match: { path: UPSERT }, respond: { status: 429, body: { policyName: "TEN_SECONDLY_ROLLING" } } });
    const error = await hubspot.upsertContacts(contextFor(hs), [contact("a@example.com")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Throttled);
    expect((error as Throttled).retryAfterMs).toBe(10_000);
  });
});

describe("hubspot destination: applyMemberships", () => {
  it("adds then removes: the list is created once, remembered, and found by name with a fresh store", async () => {
    const store = memoryStore();
    const ctx = contextFor(hs, { store });
    const [known] = await hubspot.upsertContacts(ctx, [contact("known@example.com")]);
    const knownId = (known as { vendorId: string }).vendorId;

    const added = await hubspot.applyMemberships(ctx, VIP, [
      change(true, { email: "known@example.com", vendorId: knownId }),
      change(true, { email: "new@example.com" }),
      change(true, {}),
    ]);
    expect(added).toEqual([
      { status: "ok", vendorId: knownId },
      { status: "ok", vendorId: expect.any(String) },
      { status: "skip", reason: "profile has no email" },
    ]);
    expect(hs.listMembers("tessera_vip")).toEqual(["known@example.com", "new@example.com"]);
    expect(calls(hs, "POST", LISTS)).toHaveLength(1);

    const removed = await hubspot.applyMemberships(contextFor(hs), VIP, [
      change(false, { email: "known@example.com" }),
      change(false, { email: "stranger@example.com" }),
    ]);
    expect(removed).toEqual([{ status: "ok", vendorId: knownId }, { status: "ok" }]);
    expect(hs.listMembers("tessera_vip")).toEqual(["new@example.com"]);
    expect(calls(hs, "POST", LISTS)).toHaveLength(1);
    expect(calls(hs, "GET", "/crm/v3/lists/object-type-id/0-1/name/tessera_vip")).toHaveLength(2);

    // The first store remembers the list id: no lookup by name, no create.
    await hubspot.applyMemberships(ctx, VIP, [change(false, { email: "new@example.com" })]);
    expect(calls(hs, "GET", /\/name\//)).toHaveLength(2);
    expect(hs.listMembers("tessera_vip")).toEqual([]);
    const [put] = calls(hs, "PUT", /add-and-remove$/).slice(-1);
    expect(JSON.parse(put.body)).toEqual({ recordIdsToAdd: [], recordIdsToRemove: [expect.any(String)] });
  });

  it("looks a stale record id up again by email (the contact was merged or deleted in HubSpot)", async () => {
    const outcomes = await hubspot.applyMemberships(contextFor(hs), VIP, [
      change(true, { email: "moved@example.com", vendorId: "999999" }),
    ]);
    const [moved] = hs.contacts();
    expect(outcomes).toEqual([{ status: "ok", vendorId: moved.id }]);
    expect(hs.listMembers("tessera_vip")).toEqual(["moved@example.com"]);
  });

  it("finds a contact by one of its additional emails when removing it", async () => {
    const ctx = contextFor(hs);
    const [primary] = await hubspot.upsertContacts(ctx, [
      contact("new-address@example.com", { hs_additional_emails: "old-address@example.com" }),
    ]);
    await hubspot.applyMemberships(ctx, VIP, [change(true, { email: "new-address@example.com" })]);
    const outcomes = await hubspot.applyMemberships(ctx, VIP, [change(false, { email: "old-address@example.com" })]);
    expect(outcomes).toEqual([primary]);
    expect(hs.listMembers("tessera_vip")).toEqual([]);
  });

  it("fails not_found for an unknown record id without an email, and removing one is ok", async () => {
    const outcomes = await hubspot.applyMemberships(contextFor(hs), VIP, [
      change(true, { vendorId: "999999" }),
      change(false, { vendorId: "999998" }),
    ]);
    expect(outcomes).toEqual([
      { status: "fail", code: "not_found", message: expect.stringContaining("999999") },
      { status: "ok" },
    ]);
  });

  it("reads the list again when another worker created it between our lookup and our create", async () => {
    await fetch(`${hs.url}${LISTS}`, {
      method: "POST",
      headers: { authorization: `Bearer ${hs.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "tessera_vip", objectTypeId: "0-1", processingType: "MANUAL" }),
    });
    hs.fault({ match: { method: "GET", path: /\/name\/tessera_vip$/ }, respond: { status: 404, body: {} } });
    const outcomes = await hubspot.applyMemberships(contextFor(hs), VIP, [change(true, { email: "a@example.com" })]);
    expect(outcomes).toEqual([{ status: "ok", vendorId: expect.any(String) }]);
    expect(calls(hs, "POST", LISTS)).toHaveLength(2);
    expect(calls(hs, "GET", /\/name\//)).toHaveLength(2);
    expect(hs.listMembers("tessera_vip")).toEqual(["a@example.com"]);
  });

  it("finds or creates the list again when the remembered one was deleted in HubSpot", async () => {
    const ctx = contextFor(hs);
    await hubspot.applyMemberships(ctx, VIP, [change(true, { email: "a@example.com" })]);
    const listId = await ctx.store.get("list:tessera_vip");
    await fetch(`${hs.url}${LISTS}/${listId}`, { method: "DELETE", headers: { authorization: `Bearer ${hs.token}` } });

    const outcomes = await hubspot.applyMemberships(ctx, VIP, [change(true, { email: "b@example.com" })]);
    expect(outcomes).toEqual([{ status: "ok", vendorId: expect.any(String) }]);
    expect(hs.listMembers("tessera_vip")).toEqual(["b@example.com"]);
    expect(await ctx.store.get("list:tessera_vip")).not.toBe(listId);
  });

  it("fails config when the list with that name is not MANUAL", async () => {
    await fetch(`${hs.url}${LISTS}`, {
      method: "POST",
      headers: { authorization: `Bearer ${hs.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "tessera_vip", objectTypeId: "0-1", processingType: "DYNAMIC" }),
    });
    const outcomes = await hubspot.applyMemberships(contextFor(hs), VIP, [change(true, { vendorId: "1" })]);
    expect(outcomes).toEqual([{ status: "fail", code: "config", message: expect.stringContaining("DYNAMIC") }]);
  });

  it("gives every item the failure of the membership call, and a contact's own failure to that item only", async () => {
    hs.fault({ match: { method: "PUT" }, respond: { status: 503, body: { message: "down" } } });
    const outcomes = await hubspot.applyMemberships(contextFor(hs), VIP, [
      change(true, { email: "a@example.com" }),
      change(true, { email: "broken" }),
      change(false, { email: "b@example.com" }),
    ]);
    expect(outcomes).toEqual([
      { status: "retry", reason: "HubSpot 503: down" },
      { status: "fail", code: "invalid_identity", message: expect.stringContaining("INVALID_EMAIL") },
      { status: "ok" },
    ]);
  });
});

describe("hubspot destination: deleteContact", () => {
  it("GDPR-deletes by email, taking the contact off its lists; a contact HubSpot lacks is ok", async () => {
    const ctx = contextFor(hs);
    await hubspot.applyMemberships(ctx, VIP, [change(true, { email: "gone@example.com" })]);
    expect(await hubspot.deleteContact(ctx, person(["gone@example.com"]))).toEqual({ status: "ok" });
    expect(hs.contacts()).toEqual([]);
    expect(hs.listMembers("tessera_vip")).toEqual([]);
    const [request] = calls(hs, "POST", "/crm/v3/objects/contacts/gdpr-delete");
    expect(JSON.parse(request.body)).toEqual({ idProperty: "email", objectId: "gone@example.com" });

    expect(await hubspot.deleteContact(ctx, person(["gone@example.com"]))).toEqual({ status: "ok" });
  });

  it("GDPR-deletes the contact of every email a merged person had, and each record id recorded", async () => {
    const ctx = contextFor(hs);
    const created = await hubspot.upsertContacts(ctx, [
      contact("a@example.com"),
      contact("b@example.com"),
      contact("renamed@example.com"),
      contact("stays@example.com"),
    ]);
    const [, , renamed] = created.map((o) => (o as { vendorId: string }).vendorId);
    // HubSpot knows the third only by the record id Tessera recorded (its email was changed in HubSpot).
    expect(await hubspot.deleteContact(ctx, person(["a@example.com", "b@example.com"], [renamed]))).toEqual({
      status: "ok",
    });
    expect(hs.contacts().map((c) => c.properties.email)).toEqual(["stays@example.com"]);
    expect(calls(hs, "POST", "/crm/v3/objects/contacts/gdpr-delete").map((r) => JSON.parse(r.body))).toEqual([
      { idProperty: "email", objectId: "a@example.com" },
      { idProperty: "email", objectId: "b@example.com" },
      { objectId: renamed },
    ]);
  });

  it("retries the person when one of their contacts could not be deleted", async () => {
    const ctx = contextFor(hs);
    await hubspot.upsertContacts(ctx, [contact("a@example.com"), contact("b@example.com")]);
    hs.fault({ match: { path: "/crm/v3/objects/contacts/gdpr-delete" }, respond: { status: 503 }, times: 1 });
    expect(await hubspot.deleteContact(ctx, person(["a@example.com", "b@example.com"]))).toMatchObject({
      status: "retry",
    });
    expect(hs.contacts().map((c) => c.properties.email)).toEqual(["a@example.com"]);
  });

  it("deletes by record id without an email, and skips a profile with neither", async () => {
    const ctx = contextFor(hs);
    const [created] = await hubspot.upsertContacts(ctx, [contact("id-only@example.com")]);
    const vendorId = (created as { vendorId: string }).vendorId;
    expect(await hubspot.deleteContact(ctx, person([], [vendorId]))).toEqual({ status: "ok" });
    expect(hs.contacts()).toEqual([]);
    expect(await hubspot.deleteContact(ctx, person([]))).toMatchObject({ status: "skip" });
  });
});

/** Stands in for Tessera's webhook route: keeps each request exactly as received. */
const received: RawInbound[] = [];
const receiver = await startMockVendor((app) => {
  app.post("/v1/webhooks/:destination", async (c) => {
    received.push(await rawInbound(c.req.raw));
    return c.body(null, 204);
  });
});
afterAll(() => receiver.stop());

describe("hubspot inbound webhooks", () => {
  const SECRET = "hs-client-secret";
  const config: HubSpotConfig = { access_token: "unused", client_secret: SECRET };
  beforeEach(() => {
    received.length = 0;
  });

  /** A delivery from the mock HubSpot, to a URL whose query holds escapes HubSpot decodes and one it keeps. */
  async function deliver(events: Parameters<MockHubSpot["emitWebhook"]>[1], timestamp?: number) {
    const url = `${receiver.url}/v1/webhooks/dst_1?tenant=acme&next=%2Fhome%3Fa%3D1&note=a%20b`;
    expect((await hs.emitWebhook(url, events, SECRET, { timestamp })).status).toBe(204);
    return received[received.length - 1];
  }

  it("verifies a delivery signed like HubSpot, to a URL with a query string", async () => {
    const req = await deliver([{ propertyName: "hs_email_optout", propertyValue: "true" }]);
    expect(req.url).toContain("?tenant=acme&next=%2Fhome%3Fa%3D1&note=a%20b");
    expect(await hubspotInbound.verify(req, config, Date.now())).toEqual({ ok: true });
  });

  it("refuses a wrong secret, a tampered body, a stale or future timestamp, missing headers or secret", async () => {
    const sentAt = Date.now();
    const req = await deliver([{ propertyName: "hs_email_optout", propertyValue: "true" }], sentAt);
    const refused = async (r: RawInbound, c: HubSpotConfig = config, now = sentAt) => {
      const result = await hubspotInbound.verify(r, c, now);
      expect(result.ok).toBe(false);
      return (result as { reason: string }).reason;
    };

    expect(await refused(req, { ...config, client_secret: "other" })).toBe("signature does not match");
    const tampered = new TextEncoder().encode(new TextDecoder().decode(req.body).replace('"true"', '"false"'));
    expect(await refused({ ...req, body: tampered })).toBe("signature does not match");
    expect(await refused({ ...req, url: req.url.replace("acme", "evil") })).toBe("signature does not match");
    expect(await refused(req, config, sentAt + 5 * 60_000 + 1)).toBe("timestamp outside the 5-minute window");
    expect(await refused(req, config, sentAt - 5 * 60_000 - 1)).toBe("timestamp outside the 5-minute window");
    expect(await hubspotInbound.verify(req, config, sentAt + 5 * 60_000)).toEqual({ ok: true });
    const unsigned = new Headers(req.headers);
    unsigned.delete("X-HubSpot-Signature-v3");
    expect(await refused({ ...req, headers: unsigned })).toContain("missing");
    expect(await refused(req, { access_token: "unused" })).toContain("client_secret");
  });

  it("matches the signature vector published with HubSpot's Python SDK", async () => {
    const req: RawInbound = {
      method: "POST",
      url: "https://www.example.com/webhook_uri",
      headers: new Headers({
        "X-HubSpot-Signature-v3": "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y=",
        "X-HubSpot-Request-Timestamp": "1693657560000",
      }),
      body: new TextEncoder().encode("{'example_field':'example_value'}"),
    };
    const secret = { access_token: "unused", client_secret: "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy" };
    expect(await hubspotInbound.verify(req, secret, 1693657560000 + 1000)).toEqual({ ok: true });
  });

  it("parses opt-outs of contacts, leaving every other change out (bounces are the poller's)", async () => {
    const occurredAt = Date.UTC(2026, 2, 1, 9, 30);
    const req = await deliver([
      { eventId: 7, objectId: 512, occurredAt, propertyName: "hs_email_optout", propertyValue: "true" },
      { eventId: 8, objectId: 513, occurredAt, propertyName: "hs_email_optout", propertyValue: "false" },
      {
        eventId: 9,
        objectId: 514,
        occurredAt,
        propertyName: "hs_email_hard_bounce_reason_enum",
        propertyValue: "MAILBOX_FULL",
      },
      { eventId: 10, objectId: 515, occurredAt, subscriptionType: "contact.creation" },
      { eventId: 11, objectId: 516, occurredAt, propertyName: "firstname", propertyValue: "Ada" },
      {
        eventId: 12,
        objectId: 517,
        occurredAt,
        subscriptionType: "object.propertyChange",
        objectTypeId: "0-1",
        propertyName: "hs_email_optout",
        propertyValue: "true",
      },
      {
        eventId: 13,
        objectId: 518,
        occurredAt,
        subscriptionType: "object.propertyChange",
        objectTypeId: "0-2",
        propertyName: "hs_email_optout",
        propertyValue: "true",
      },
    ]);
    expect(hubspotInbound.parse(req)).toEqual([
      {
        vendorEventId: `7:512:${occurredAt}`,
        event: "Unsubscribed",
        vendorId: "512",
        occurredAt: "2026-03-01T09:30:00.000Z",
        properties: { property: "hs_email_optout", value: "true", change_source: "CRM" },
      },
      expect.objectContaining({ vendorEventId: `12:517:${occurredAt}`, event: "Unsubscribed", vendorId: "517" }),
    ]);
    expect(hubspotInbound.parse({ ...req, body: new TextEncoder().encode("not json") })).toEqual([]);
  });
});

describe("hubspot email events poller", () => {
  const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
  const HOUR = 3_600_000;

  async function pollAll(ctx: PluginContext<HubSpotConfig>, cursor: string | undefined, between?: () => void) {
    const engagements: Engagement[] = [];
    let more = true;
    while (more) {
      const page = await hubspotPoller.poll(ctx, cursor);
      engagements.push(...page.engagements);
      ({ cursor, more } = page);
      between?.();
    }
    return { engagements, cursor };
  }

  it("pages through a fixed window, maps the event types, and resumes from the newest event seen", async () => {
    const seeded = hs.addEmailEvents([
      { type: "OPEN", recipient: "A@Example.com", created: NOW - 5 * HOUR },
      { type: "CLICK", recipient: "a@example.com", created: NOW - 4 * HOUR, url: "https://shop.example/x" },
      { type: "BOUNCE", recipient: "b@example.com", created: NOW - 3 * HOUR, category: "HARD_BOUNCE", response: "550" },
      { type: "SPAMREPORT", recipient: "c@example.com", created: NOW - 2 * HOUR },
      { type: "DELIVERED", recipient: "d@example.com", created: NOW - 1.5 * HOUR },
      {
        type: "STATUSCHANGE",
        recipient: "e@example.com",
        created: NOW - HOUR,
        portalSubscriptionStatus: "UNSUBSCRIBED",
        subscriptions: [{ id: 1, status: "UNSUBSCRIBED" }],
      },
      { type: "SENT", recipient: "f@example.com", created: NOW - 0.5 * HOUR },
      {
        type: "STATUSCHANGE",
        recipient: "g@example.com",
        created: NOW - 0.25 * HOUR,
        portalSubscriptionStatus: "SUBSCRIBED",
      },
      { type: "OPEN", recipient: "old@example.com", created: NOW - 30 * HOUR },
    ]);
    const ctx = contextFor(hs, { now: () => NOW });
    let late: string | undefined;
    const first = await pollAll(ctx, undefined, () => {
      // An event arriving while the window is paged is newer than its end: it must not shift the pages.
      late ??= hs.addEmailEvents([{ type: "OPEN", recipient: "late@example.com", created: NOW + 1000 }])[0].id;
    });

    const pages = calls(hs, "GET", "/email/public/v1/events");
    expect(pages).toHaveLength(4);
    // Every window reaches 15 minutes further back than its cursor, for events HubSpot records late.
    const OVERLAP = 15 * 60_000;
    expect(pages[0].query).toMatchObject({
      startTimestamp: String(NOW - 24 * HOUR - OVERLAP),
      endTimestamp: String(NOW),
    });
    expect(pages.every((p) => p.query.endTimestamp === String(NOW))).toBe(true);
    const byId = Object.fromEntries(seeded.map((e) => [e.id, e]));
    expect(first.engagements.map((e) => [byId[e.vendorEventId].type, e.event, e.email])).toEqual([
      ["STATUSCHANGE", "Unsubscribed", "e@example.com"],
      ["DELIVERED", "Email Delivered", "d@example.com"],
      ["SPAMREPORT", "Email Marked as Spam", "c@example.com"],
      ["BOUNCE", "Email Bounced", "b@example.com"],
      ["CLICK", "Email Link Clicked", "a@example.com"],
      ["OPEN", "Email Opened", "a@example.com"],
    ]);
    const click = first.engagements.find((e) => e.event === "Email Link Clicked")!;
    expect(click).toMatchObject({
      occurredAt: new Date(NOW - 4 * HOUR).toISOString(),
      properties: { campaign_id: "4242", link_url: "https://shop.example/x" },
    });
    expect(first.engagements.find((e) => e.event === "Email Bounced")!.properties).toMatchObject({
      bounce_category: "HARD_BOUNCE",
      bounce_response: "550",
    });

    const next = await pollAll(contextFor(hs, { now: () => NOW + 5000 }), first.cursor);
    expect(next.engagements.map((e) => e.vendorEventId)).toEqual([late]);
    const [resumed] = calls(hs, "GET", "/email/public/v1/events").slice(4);
    expect(resumed.query.startTimestamp).toBe(String(NOW - 0.25 * HOUR - OVERLAP));
  });

  it("throws without a cursor when HubSpot refuses or fails, so the engine polls the same window again", async () => {
    await expect(
      hubspotPoller.poll(contextFor(hs, { config: { access_token: "nope" } }), undefined),
    ).rejects.toBeInstanceOf(AuthRefused);
    hs.fault({ match: { path: "/email/public/v1/events" }, respond: { status: 500, body: { message: "boom" } } });
    await expect(hubspotPoller.poll(contextFor(hs), undefined)).rejects.toThrow("HubSpot 500: boom");
  });
});
