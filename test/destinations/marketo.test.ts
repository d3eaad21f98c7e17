import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { type MarketoConfig, marketo, untilQuotaReset } from "../../workers/sync/destinations/marketo";
import { marketoPoller } from "../../workers/sync/inbound/marketo-poller";
import { tesseraInbound } from "../../workers/sync/inbound/tessera";
import {
  AuthRefused,
  type ErasedContact,
  type Outcome,
  type PluginContext,
  type RawInbound,
  Throttled,
} from "../../workers/sync/plugin";
import { signTessera, TESSERA_SIGNATURE_HEADER } from "../../workers/sync/tessera-signature";
import { type MockMarketo, startMockMarketo } from "../support/mocks/marketo";

const mock = await startMockMarketo({ activityPageSize: 2, customFields: ["plan"] });
const limited = await startMockMarketo({ rateLimit: { limit: 2, windowMs: 60_000 }, concurrency: 2 });
afterAll(() => Promise.all([mock.stop(), limited.stop()]));
beforeEach(() => {
  mock.reset();
  limited.reset();
});

/** A store like the engine's: values expire after their TTL. */
function memoryStore(now: () => number): PluginContext<MarketoConfig>["store"] {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  return {
    async get(key) {
      const entry = entries.get(key);
      return entry && entry.expiresAt > now() ? entry.value : undefined;
    },
    async put(key, value, ttlMs) {
      entries.set(key, { value, expiresAt: ttlMs === undefined ? Number.POSITIVE_INFINITY : now() + ttlMs });
    },
  };
}

function contextFor(server: MockMarketo, overrides: Partial<MarketoConfig> = {}, now = () => Date.now()) {
  const config: MarketoConfig = {
    base_url: server.url,
    client_id: server.clientId,
    client_secret: server.clientSecret,
    folder_id: server.folderId,
    ...overrides,
  };
  return { config, fetch, now, store: memoryStore(now) } satisfies PluginContext<MarketoConfig>;
}

const contact = (email: string | undefined, traits: Record<string, unknown> = {}, vendorId?: string) => ({
  identity: { profileId: `p_${email ?? "none"}`, email, vendorId },
  traits,
});
const member = (email: string, isMember: boolean, vendorId?: string) => ({
  identity: { profileId: `p_${email}`, email, vendorId },
  member: isMember,
});
const vendorIdOf = ([outcome]: Outcome[]) => (outcome.status === "ok" ? outcome.vendorId : undefined);
const calls = (server: MockMarketo) => server.requests.map((r) => `${r.method} ${r.path}`);
const list = { key: "vip", name: "tessera_vip" };

describe("marketo.validateConfig", () => {
  it("accepts a complete config and names the first bad field", () => {
    const good = {
      base_url: "https://123-ABC-456.mktorest.com/rest",
      client_id: "id",
      client_secret: "s",
      folder_id: 13,
    };
    expect(marketo.validateConfig(good)).toBeNull();
    expect(marketo.validateConfig({ ...good, folder_id: "13" })).toBeNull();
    expect(marketo.validateConfig({ ...good, base_url: "123-ABC-456.mktorest.com" })).toMatch(/^base_url:/);
    expect(marketo.validateConfig({ ...good, client_secret: "" })).toMatch(/^client_secret:/);
    expect(marketo.validateConfig({ ...good, folder_id: "Tessera" })).toMatch(/^folder_id:/);
  });
});

describe("marketo access token", () => {
  it("fetches a token once, sends it as a bearer header, and reuses it", async () => {
    const ctx = contextFor(mock);
    await marketo.upsertContacts(ctx, [contact("a@example.com")]);
    await marketo.upsertContacts(ctx, [contact("b@example.com")]);
    expect(calls(mock)).toEqual(["POST /identity/oauth/token", "POST /rest/v1/leads.json", "POST /rest/v1/leads.json"]);
    const [tokenCall, ...restCalls] = mock.requests;
    expect(restCalls.map((r) => r.headers.authorization)).toEqual([
      expect.stringMatching(/^Bearer .+/),
      restCalls[0].headers.authorization,
    ]);
    // The secret travels in the token request's body, never in a URL.
    expect(tokenCall.body).toContain(`client_secret=${mock.clientSecret}`);
    expect(mock.requests.some((r) => JSON.stringify(r.query).includes(mock.clientSecret))).toBe(false);
  });

  it.each([
    ["expired (602)", (server: MockMarketo) => server.expireTokens()],
    ["unknown (601)", (server: MockMarketo) => server.revokeTokens()],
  ])("fetches a new token when the cached one is %s and replays the call", async (_, invalidate) => {
    const ctx = contextFor(mock);
    await marketo.upsertContacts(ctx, [contact("a@example.com")]);
    invalidate(mock);
    mock.requests.length = 0;
    const outcomes = await marketo.upsertContacts(ctx, [contact("a@example.com", { first_name: "Ada" })]);
    expect(outcomes).toEqual([{ status: "ok", vendorId: "1" }]);
    expect(calls(mock)).toEqual(["POST /rest/v1/leads.json", "POST /identity/oauth/token", "POST /rest/v1/leads.json"]);
    expect(mock.leads()).toMatchObject([{ id: 1, email: "a@example.com", firstName: "Ada" }]);
  });

  it("refreshes only once: a second 601 after a fresh token is AuthRefused", async () => {
    const ctx = contextFor(mock);
    mock.fault({
      match: { path: "/rest/v1/leads.json" },
      times: 2,
      respond: {
        status: 200,
        body: { requestId: "x", success: false, errors: [{ code: "601", message: "Access token invalid" }] },
      },
    });
    await expect(marketo.upsertContacts(ctx, [contact("a@example.com")])).rejects.toBeInstanceOf(AuthRefused);
    expect(calls(mock).filter((c) => c.endsWith("/identity/oauth/token"))).toHaveLength(2);
  });

  it("does not use a token minted from other credentials: a new secret or instance gets its own", async () => {
    const saved = contextFor(mock);
    await marketo.upsertContacts(saved, [contact("a@example.com")]);
    // A PUT changed the secret: the destination's store still holds the token the old one minted.
    const newSecret = { ...contextFor(mock, { client_secret: "wrong" }), store: saved.store };
    await expect(marketo.upsertContacts(newSecret, [contact("a@example.com")])).rejects.toBeInstanceOf(AuthRefused);
    // Another instance with the same client id and secret (the two mocks share them): its own token, asked first.
    limited.requests.length = 0;
    const moved = { ...contextFor(limited), store: saved.store };
    await marketo.upsertContacts(moved, [contact("a@example.com")]);
    expect(calls(limited)).toEqual(["POST /identity/oauth/token", "POST /rest/v1/leads.json"]);
  });

  it("throws AuthRefused when the client credentials are wrong", async () => {
    const ctx = contextFor(mock, { client_secret: "wrong" });
    await expect(marketo.testConnection(ctx)).rejects.toThrow(/Bad client credentials/);
    await expect(marketo.upsertContacts(ctx, [contact("a@example.com")])).rejects.toBeInstanceOf(AuthRefused);
  });
});

describe("marketo.testConnection", () => {
  it("passes with the configured folder and names folder_id when it does not exist", async () => {
    await expect(marketo.testConnection(contextFor(mock))).resolves.toBeUndefined();
    await expect(marketo.testConnection(contextFor(mock, { folder_id: 999 }))).rejects.toThrow(/folder_id/);
  });
});

describe("marketo.upsertContacts", () => {
  it("answers one outcome per contact, in order: created, invalid email, no email, updated", async () => {
    mock.addLead({ email: "known@example.com", firstName: "Old" });
    const outcomes = await marketo.upsertContacts(contextFor(mock), [
      contact("new@example.com", { first_name: "Ada", last_name: "Lovelace", city: "London", plan: "pro" }),
      contact("not-an-email"),
      contact(undefined, { first_name: "Nobody" }),
      contact("known@example.com", { first_name: "Grace" }),
    ]);
    expect(outcomes).toEqual([
      { status: "ok", vendorId: "2" },
      { status: "fail", code: "invalid_payload", message: "Marketo 1003: Invalid email address" },
      { status: "skip", reason: "no email" },
      { status: "ok", vendorId: "1" },
    ]);
    const sent = JSON.parse(mock.requests.at(-1)?.body ?? "{}");
    expect(sent).toMatchObject({ action: "createOrUpdate", lookupField: "email" });
    expect(sent.input).toHaveLength(3);
    expect(mock.leads()).toMatchObject([
      { id: 1, email: "known@example.com", firstName: "Grace" },
      { id: 2, email: "new@example.com", firstName: "Ada", lastName: "Lovelace", city: "London", plan: "pro" },
    ]);
  });

  it("fails a contact whose trait has no Marketo field, as a config problem", async () => {
    const [outcome] = await marketo.upsertContacts(contextFor(mock), [contact("a@example.com", { shoe_size: 42 })]);
    expect(outcome).toEqual({ status: "fail", code: "config", message: "Marketo 1006: Field 'shoe_size' not found" });
  });

  it("retries every contact on an error code it does not know", async () => {
    mock.fault({
      match: { path: "/rest/v1/leads.json" },
      respond: {
        status: 200,
        body: { requestId: "x", success: false, errors: [{ code: "799", message: "New thing" }] },
      },
    });
    const outcomes = await marketo.upsertContacts(contextFor(mock), [
      contact("a@example.com"),
      contact("b@example.com"),
    ]);
    expect(outcomes).toEqual([
      { status: "retry", reason: "Marketo 799: New thing" },
      { status: "retry", reason: "Marketo 799: New thing" },
    ]);
  });

  it("retries on a gateway error, honouring Retry-After", async () => {
    mock.fault({ match: { path: "/rest/v1/leads.json" }, respond: { status: 502, headers: { "retry-after": "7" } } });
    const [outcome] = await marketo.upsertContacts(contextFor(mock), [contact("a@example.com")]);
    expect(outcome).toEqual({ status: "retry", reason: "Marketo answered HTTP 502", retryAfterMs: 7000 });
  });
});

describe("marketo throttling", () => {
  it("throws Throttled for the 20-second window on 606", async () => {
    const ctx = contextFor(limited);
    await marketo.upsertContacts(ctx, [contact("a@example.com")]);
    await marketo.upsertContacts(ctx, [contact("b@example.com")]);
    const error = await marketo.upsertContacts(ctx, [contact("c@example.com")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Throttled);
    expect(error).toMatchObject({ retryAfterMs: 20_000, message: expect.stringContaining("606") });
    expect(limited.leads().map((l) => l.email)).toEqual(["a@example.com", "b@example.com"]);
  });

  it("throws Throttled on 615 when too many calls are in flight", async () => {
    const ctx = contextFor(limited);
    const release = limited.hold();
    const held = [
      marketo.upsertContacts(ctx, [contact("a@example.com")]),
      marketo.upsertContacts(ctx, [contact("b@example.com")]),
    ];
    while (limited.inFlight() < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const error = await marketo.upsertContacts(ctx, [contact("c@example.com")]).catch((e: unknown) => e);
    release();
    expect(error).toMatchObject({ name: "Throttled", retryAfterMs: 20_000, message: expect.stringContaining("615") });
    expect((await Promise.all(held)).flat().map((o) => o.status)).toEqual(["ok", "ok"]);
  });

  it("throws Throttled until the next midnight CST on 607", async () => {
    const now = Date.UTC(2026, 6, 14, 18, 30); // 12:30 CST
    const ctx = contextFor(mock, {}, () => now);
    mock.exhaustDailyQuota();
    const error = await marketo.upsertContacts(ctx, [contact("a@example.com")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Throttled);
    expect((error as Throttled).retryAfterMs).toBe(Date.UTC(2026, 6, 15, 6) - now);
    expect(untilQuotaReset(Date.UTC(2026, 0, 1, 5, 59))).toBe(60_000); // 23:59 CST
    expect(untilQuotaReset(Date.UTC(2026, 0, 1, 6, 1))).toBe(86_400_000 - 60_000);
  });
});

describe("marketo.applyMemberships", () => {
  it("creates the list once in the configured folder, then finds it by name", async () => {
    await marketo.applyMemberships(contextFor(mock), list, [member("a@example.com", true)]);
    // A second destination worker without the cached id finds the same list.
    await marketo.applyMemberships(contextFor(mock), list, [member("b@example.com", true)]);
    expect(mock.lists()).toMatchObject([{ name: "tessera_vip", folderId: mock.folderId }]);
    expect(calls(mock).filter((c) => c.includes("staticList"))).toEqual([
      "GET /rest/asset/v1/staticList/byName.json",
      "POST /rest/asset/v1/staticLists.json",
      "GET /rest/asset/v1/staticList/byName.json",
    ]);
  });

  it("keeps the list id: a later batch goes straight to the membership call", async () => {
    const ctx = contextFor(mock);
    const vendorId = vendorIdOf(await marketo.upsertContacts(ctx, [contact("a@example.com")]));
    await marketo.applyMemberships(ctx, list, [member("a@example.com", true, vendorId)]);
    mock.requests.length = 0;
    await marketo.applyMemberships(ctx, list, [member("a@example.com", false, vendorId)]);
    expect(calls(mock)).toEqual([`DELETE /rest/v1/lists/${mock.lists()[0].id}/leads.json`]);
  });

  it("adds known and new leads, then removes one; removing a non-member or unknown email is ok", async () => {
    const ctx = contextFor(mock);
    const known = mock.addLead({ email: "known@example.com" });
    const added = await marketo.applyMemberships(ctx, list, [
      member("known@example.com", true, String(known.id)),
      member("new@example.com", true),
    ]);
    expect(added).toEqual([
      { status: "ok", vendorId: String(known.id) },
      { status: "ok", vendorId: "2" },
    ]);
    expect(mock.listMembers("tessera_vip").map((l) => l.email)).toEqual(["known@example.com", "new@example.com"]);

    mock.addLead({ email: "outsider@example.com" });
    const removed = await marketo.applyMemberships(ctx, list, [
      member("new@example.com", false),
      member("outsider@example.com", false),
      member("nobody@example.com", false),
    ]);
    expect(removed).toEqual([{ status: "ok", vendorId: "2" }, { status: "ok", vendorId: "3" }, { status: "ok" }]);
    expect(mock.listMembers("tessera_vip").map((l) => l.email)).toEqual(["known@example.com"]);
    expect(mock.leads().map((l) => l.email)).not.toContain("nobody@example.com");
  });

  it("swaps a lead's former email for the new one in one call (an email change)", async () => {
    const ctx = contextFor(mock);
    const former = vendorIdOf(await marketo.upsertContacts(ctx, [contact("ann@old.example")]));
    await marketo.applyMemberships(ctx, list, [member("ann@old.example", true, former)]);
    const current = vendorIdOf(await marketo.upsertContacts(ctx, [contact("ann@new.example")]));
    expect(
      await marketo.applyMemberships(ctx, list, [
        member("ann@new.example", true, current),
        member("ann@old.example", false, former),
      ]),
    ).toEqual([
      { status: "ok", vendorId: current },
      { status: "ok", vendorId: former },
    ]);
    expect(mock.listMembers("tessera_vip").map((l) => l.email)).toEqual(["ann@new.example"]);
  });

  it("looks up a long batch of emails in a form body, past Marketo's 8 KB URI limit", async () => {
    const emails = Array.from({ length: 300 }, (_, i) => `someone.with.a.long.address.${i}@example.com`);
    const ids = emails.map((email) => mock.addLead({ email }).id);
    const ctx = contextFor(mock);
    await marketo.applyMemberships(
      ctx,
      list,
      emails.map((email, i) => member(email, true, String(ids[i]))),
    );
    const outcomes = await marketo.applyMemberships(
      ctx,
      list,
      emails.map((email) => member(email, false)),
    );
    expect(outcomes.every((o) => o.status === "ok")).toBe(true);
    expect(mock.listMembers("tessera_vip")).toEqual([]);
    const lookup = mock.requests.find((r) => r.path === "/rest/v1/leads.json" && r.query._method === "GET");
    expect(lookup).toMatchObject({ method: "POST" });
    expect(new URLSearchParams(lookup?.body).get("filterValues")?.split(",")).toHaveLength(300);
  });

  it("finds or creates the list again when the cached one was deleted in Marketo", async () => {
    const ctx = contextFor(mock);
    await marketo.applyMemberships(ctx, list, [member("a@example.com", true)]);
    mock.reset(); // the instance lost its lists (and leads, and tokens)
    const [outcome] = await marketo.applyMemberships(ctx, list, [member("a@example.com", true)]);
    expect(outcome.status).toBe("ok");
    expect(mock.listMembers("tessera_vip").map((l) => l.email)).toEqual(["a@example.com"]);
  });

  it("does not use a list id cached for another instance with the same client id", async () => {
    limited.limiter.enabled = false;
    try {
      // The other instance already has a list of its own under the id the first one gave tessera_vip (both count from
      // 1001): a list id is only an instance's.
      await marketo.applyMemberships(contextFor(limited), { key: "other", name: "someone_elses" }, [
        member("x@example.com", true),
      ]);
      const saved = contextFor(mock);
      await marketo.applyMemberships(saved, list, [member("a@example.com", true)]);
      expect(mock.lists()[0].id).toBe(limited.lists()[0].id);

      // A PUT moved the destination to the other instance (same client id and secret); the store is the destination's.
      const moved = { ...contextFor(limited), store: saved.store };
      const [outcome] = await marketo.applyMemberships(moved, list, [member("b@example.com", true)]);
      expect(outcome.status).toBe("ok");
    } finally {
      limited.limiter.enabled = true;
    }
    expect(limited.listMembers("someone_elses").map((l) => l.email)).toEqual(["x@example.com"]);
    expect(limited.listMembers("tessera_vip").map((l) => l.email)).toEqual(["b@example.com"]);
  });

  it("fails every item with a config code when the folder does not exist", async () => {
    const outcomes = await marketo.applyMemberships(contextFor(mock, { folder_id: 999 }), list, [
      member("a@example.com", true),
    ]);
    expect(outcomes).toEqual([{ status: "fail", code: "config", message: "Marketo 710: Parent folder not found" }]);
  });
});

/** A GDPR delete of a person who had these emails, and these vendor ids recorded. */
const person = (emails: string[], vendorIds: string[] = []): ErasedContact => ({
  profileId: "p1",
  emails,
  vendorIds,
  identifiers: emails.map((value) => ({ type: "email", value })),
});

describe("marketo.deleteContact", () => {
  it("deletes every lead with the email, and is ok when there is none", async () => {
    const ctx = contextFor(mock);
    mock.addLead({ email: "gone@example.com" });
    mock.addLead({ email: "gone@example.com" }); // Marketo allows duplicates
    mock.addLead({ email: "stays@example.com" });
    const identity = person(["gone@example.com"]);
    expect(await marketo.deleteContact(ctx, identity)).toEqual({ status: "ok" });
    expect(mock.leads().map((l) => l.email)).toEqual(["stays@example.com"]);
    expect(await marketo.deleteContact(ctx, identity)).toEqual({ status: "ok" });
    expect(calls(mock).filter((c) => c.endsWith("/leads/delete.json"))).toHaveLength(1);
  });

  it("deletes the leads of every email a merged person had, and each lead id recorded, in one call", async () => {
    const ctx = contextFor(mock);
    mock.addLead({ email: "a@example.com" });
    mock.addLead({ email: "b@example.com" });
    const renamed = mock.addLead({ email: "renamed@example.com" });
    mock.addLead({ email: "stays@example.com" });
    expect(await marketo.deleteContact(ctx, person(["a@example.com", "b@example.com"], [String(renamed.id)]))).toEqual({
      status: "ok",
    });
    expect(mock.leads().map((l) => l.email)).toEqual(["stays@example.com"]);
    const lookups = mock.requests.filter((r) => r.method === "GET" && r.path === "/rest/v1/leads.json");
    expect(lookups.map((r) => r.query.filterValues)).toEqual(["a@example.com,b@example.com"]);
    expect(calls(mock).filter((c) => c.endsWith("/leads/delete.json"))).toHaveLength(1);
  });
});

describe("marketoPoller", () => {
  it("pages activities with Marketo's token as the cursor and maps them to Segment email events", async () => {
    const ctx = contextFor(mock);
    const leadId = Number(vendorIdOf(await marketo.upsertContacts(ctx, [contact("a@example.com")])));
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
    mock.addActivities(
      { leadId, activityTypeId: 10, activityDate: twoDaysAgo }, // before the first poll's window
      { leadId, activityTypeId: 7, primaryAttributeValueId: 42, primaryAttributeValue: "Spring.Launch" },
      { leadId, activityTypeId: 6 }, // Send Email: not asked for
      { leadId, activityTypeId: 10 },
      { leadId, activityTypeId: 11, attributes: { Link: "https://example.com/spring" } },
    );

    const first = await marketoPoller.poll(ctx, undefined);
    expect(first.more).toBe(true);
    expect(first.engagements.map((e) => e.event)).toEqual(["Email Delivered", "Email Opened"]);
    expect(first.engagements[0]).toMatchObject({
      vendorEventId: expect.any(String),
      vendorId: String(leadId),
      occurredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      properties: { email_id: "42", email_name: "Spring.Launch" },
    });

    const second = await marketoPoller.poll(ctx, first.cursor);
    expect(second).toMatchObject({ more: false });
    expect(second.engagements).toMatchObject([
      { event: "Email Link Clicked", properties: { link_url: "https://example.com/spring" } },
    ]);

    const idle = await marketoPoller.poll(ctx, second.cursor);
    expect(idle).toEqual({ engagements: [], cursor: second.cursor, more: false });

    const [bounce] = mock.addActivities({ leadId, activityTypeId: 8 });
    const later = await marketoPoller.poll(ctx, idle.cursor);
    expect(later.engagements).toMatchObject([{ event: "Email Bounced", vendorEventId: bounce.marketoGUID }]);
    const seen = [...first.engagements, ...second.engagements, ...later.engagements].map((e) => e.vendorEventId);
    expect(new Set(seen).size).toBe(4);
    expect(mock.requests.find((r) => r.path.endsWith("/activities.json"))?.query.activityTypeIds).toBe("7,8,9,10,11");
  });

  it("throws Throttled when Marketo throttles the poll", async () => {
    mock.fault({
      match: { path: "/rest/v1/activities/pagingtoken.json" },
      respond: { status: 200, body: { success: false, errors: [{ code: "606", message: "Max rate limit" }] } },
    });
    await expect(marketoPoller.poll(contextFor(mock), undefined)).rejects.toBeInstanceOf(Throttled);
  });
});

describe("tesseraInbound", () => {
  const secret = "whsec_test";
  const now = Date.UTC(2026, 4, 1, 10, 0);
  const inbound = async (payload: unknown, signedAt = now, signWith = secret): Promise<RawInbound> => {
    const body = new TextEncoder().encode(JSON.stringify(payload));
    const headers = new Headers({ [TESSERA_SIGNATURE_HEADER]: await signTessera(signWith, body, signedAt) });
    return { method: "POST", url: "https://tessera.test/v1/webhooks/dst_1", headers, body };
  };
  const payload = {
    email: " Ada@Example.com ",
    event: "opened",
    timestamp: "2026-05-01T09:59:00Z",
    id: "evt_1",
    properties: { campaign_name: "Spring" },
  };

  it("accepts a body signed with the secret within five minutes", async () => {
    expect(await tesseraInbound.verify(await inbound(payload), { secret }, now)).toEqual({ ok: true });
    expect(await tesseraInbound.verify(await inbound(payload, now - 4 * 60_000), { secret }, now)).toEqual({
      ok: true,
    });
  });

  it("refuses a wrong secret, a changed body, a stale timestamp, a missing header or an empty secret", async () => {
    const refused = async (req: RawInbound, config = { secret }) => (await tesseraInbound.verify(req, config, now)).ok;
    expect(await refused(await inbound(payload, now, "other"))).toBe(false);
    const tampered = await inbound(payload);
    tampered.body = new TextEncoder().encode(JSON.stringify({ ...payload, email: "eve@example.com" }));
    expect(await refused(tampered)).toBe(false);
    expect(await refused(await inbound(payload, now - 6 * 60_000))).toBe(false);
    const unsigned = await inbound(payload);
    unsigned.headers.delete(TESSERA_SIGNATURE_HEADER);
    expect(await refused(unsigned)).toBe(false);
    // WebCrypto refuses a zero-length HMAC key: the guard answers before it would throw.
    expect(await refused(await inbound(payload), { secret: "" })).toBe(false);
  });

  it("parses one engagement, with aliases, spec names and Unix-second timestamps", async () => {
    expect(tesseraInbound.parse(await inbound(payload))).toEqual([
      {
        vendorEventId: "evt_1",
        event: "Email Opened",
        email: "ada@example.com",
        occurredAt: "2026-05-01T09:59:00.000Z",
        properties: { campaign_name: "Spring" },
      },
    ]);
    const spec = await inbound({ ...payload, event: "Email Marked as Spam", timestamp: now / 1000, id: 7 });
    expect(tesseraInbound.parse(spec)).toMatchObject([
      { event: "Email Marked as Spam", vendorEventId: "7", occurredAt: new Date(now).toISOString(), properties: {} },
    ]);
  });

  it("leaves out unknown events and bodies without an email, id or readable timestamp", async () => {
    for (const bad of [
      { ...payload, event: "Email Printed" },
      { ...payload, email: undefined },
      { ...payload, id: undefined },
      { ...payload, timestamp: "yesterday" },
      ["not", "an", "object"],
    ]) {
      expect(tesseraInbound.parse(await inbound(bad))).toEqual([]);
    }
    const garbage = await inbound(payload);
    garbage.body = new TextEncoder().encode("{not json");
    expect(tesseraInbound.parse(garbage)).toEqual([]);
  });
});
