import { createHash } from "node:crypto";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  type MailchimpConfig,
  mailchimp,
  mailchimpBaseUrl,
  md5Hex,
  mergeFields,
  subscriberHash,
} from "../../workers/sync/destinations/mailchimp";
import { mailchimpInbound } from "../../workers/sync/inbound/mailchimp";
import { mailchimpPoller } from "../../workers/sync/inbound/mailchimp-poller";
import { rawInbound } from "../../workers/sync/inbound/read";
import {
  AuthRefused,
  type ContactUpsert,
  type Engagement,
  type ErasedContact,
  type PluginContext,
  Throttled,
} from "../../workers/sync/plugin";
import { startMockMailchimp, webhookFields } from "../support/mocks/mailchimp";
import { startMockVendor } from "../support/mocks/mock-vendor";

const mc = await startMockMailchimp({
  mergeFields: ["FNAME", "LNAME", "PHONE", "PLAN"],
  requiredMergeFields: ["FNAME"],
});
afterAll(() => mc.stop());
beforeEach(() => mc.reset());

const nodeMd5 = (text: string) => createHash("md5").update(text).digest("hex");
const listPath = `/3.0/lists/${mc.listId}`;

function context(
  config: Partial<MailchimpConfig> = {},
  store = new Map<string, string>(),
  now = Date.now,
): PluginContext<MailchimpConfig> {
  return {
    config: { api_key: mc.apiKey, list_id: mc.listId, base_url: `${mc.url}/3.0`, ...config },
    fetch,
    now,
    store: {
      get: async (key) => store.get(key),
      put: async (key, value) => {
        store.set(key, value);
      },
    },
  };
}

const contact = (email: string | undefined, traits: Record<string, unknown> = {}): ContactUpsert => ({
  identity: { profileId: `prof_${email ?? "none"}`, email },
  traits,
});
const membership = (email: string | undefined, member: boolean) => ({
  identity: { profileId: `prof_${email ?? "none"}`, email },
  member,
});
const requestBody = (i: number) => JSON.parse(mc.requests[i].body);

describe("mailchimp config", () => {
  it("returns the first problem as field: reason, and null for a valid config", () => {
    expect(mailchimp.validateConfig(null)).toBe("config: must be an object");
    expect(mailchimp.validateConfig({ list_id: "l" })).toBe("api_key: required");
    expect(mailchimp.validateConfig({ api_key: "k-us21" })).toBe("list_id: required");
    expect(mailchimp.validateConfig({ api_key: "nodatacenter", list_id: "l" })).toMatch(/^api_key: /);
    expect(mailchimp.validateConfig({ api_key: "k", list_id: "l", base_url: "ftp://x" })).toMatch(/^base_url: /);
    expect(mailchimp.validateConfig({ api_key: "k-us21", list_id: "l", status_if_new: "cleaned" })).toMatch(
      /^status_if_new: /,
    );
    expect(mailchimp.validateConfig({ api_key: "k-us21", list_id: "l", status_if_new: "pending" })).toBeNull();
    expect(mailchimp.validateConfig({ api_key: "k", list_id: "l", base_url: mc.url })).toBeNull();
    expect(mailchimp.validateConfig({ api_key: "k-us21", list_id: "l", webhook_secret: "whsec_1" })).toBeNull();
    expect(mailchimp.secretFields).toEqual(["api_key", "webhook_secret"]);
  });

  it("refuses a key that is not a Mailchimp setting, and a webhook_secret that is not a non-empty string", () => {
    const valid = { api_key: "k-us21", list_id: "l" };
    // Saved, the typo would do nothing: new contacts would be subscribed, skipping the double opt-in asked for.
    expect(mailchimp.validateConfig({ ...valid, statusIfNew: "pending" })).toBe(
      "statusIfNew: is not a Mailchimp setting",
    );
    expect(mailchimp.validateConfig({ ...valid, webhook_secret: 5 })).toBe("webhook_secret: must be a string");
    expect(mailchimp.validateConfig({ ...valid, webhook_secret: "" })).toBe("webhook_secret: must not be empty");
    expect(mailchimp.validateConfig([])).toBe("config: must be an object");
  });

  it("derives the base URL from the API key's datacenter unless base_url is set", () => {
    expect(mailchimpBaseUrl({ api_key: "0123abcd-us21", list_id: "l" })).toBe("https://us21.api.mailchimp.com/3.0");
    expect(mailchimpBaseUrl({ api_key: "k-us21", list_id: "l", base_url: "http://h:1/3.0/" })).toBe("http://h:1/3.0");
  });
});

describe("md5Hex", () => {
  it("matches RFC 1321's test suite", () => {
    expect(md5Hex("")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(md5Hex("a")).toBe("0cc175b9c0f1b6a831c399e269772661");
    expect(md5Hex("abc")).toBe("900150983cd24fb0d6963f7d28e17f72");
    expect(md5Hex("message digest")).toBe("f96b697d7cb7938d525a2f31aaf161d0");
    expect(md5Hex("abcdefghijklmnopqrstuvwxyz")).toBe("c3fcd3d76192e4007dfb496cca67e13b");
    expect(md5Hex("1234567890".repeat(8))).toBe("57edf4a22be3c955ac49da2e2107b67a");
  });

  it("matches node:crypto on every padding boundary and on non-ASCII text", () => {
    for (let n = 0; n <= 130; n++) expect(md5Hex("x".repeat(n))).toBe(nodeMd5("x".repeat(n)));
    expect(md5Hex("zoë+ü@exämple.com 🙂")).toBe(nodeMd5("zoë+ü@exämple.com 🙂"));
  });

  it("hashes the trimmed, lowercased email as a subscriber id", () => {
    expect(subscriberHash(" Ada@Tessera.DEV ")).toBe(nodeMd5("ada@tessera.dev"));
  });
});

describe("mergeFields", () => {
  it("maps Segment names to Mailchimp tags and leaves out what cannot be a merge tag", () => {
    expect(
      mergeFields({
        first_name: "Ada",
        last_name: "Lovelace",
        phone: "+44 20 7946 0000",
        company: "Analytical",
        plan: "pro",
        seats: 3,
        vip: true,
        city: null,
        email: "ada@tessera.dev",
        favorite_color: "green",
        "plan-tier": "gold",
        address: { city: "London" },
        tags: ["a"],
      }),
    ).toEqual({
      FNAME: "Ada",
      LNAME: "Lovelace",
      PHONE: "+44 20 7946 0000",
      COMPANY: "Analytical",
      PLAN: "pro",
      SEATS: 3,
      VIP: "true",
      CITY: "",
    });
  });
});

describe("mailchimp.upsertContacts", () => {
  it("gives one outcome per item, in order, for good, invalid, email-less and incomplete contacts", async () => {
    const outcomes = await mailchimp.upsertContacts(context(), [
      contact("ada@tessera.dev", { first_name: "Ada", plan: "pro" }),
      contact("not-an-email", { first_name: "X" }),
      contact(undefined, { first_name: "Nobody" }),
      contact("bob@tessera.dev", { last_name: "NoFirstName" }),
    ]);
    expect(outcomes).toEqual([
      { status: "ok" },
      { status: "fail", code: "invalid_identity", message: expect.stringContaining("looks fake or invalid") },
      { status: "skip", reason: expect.stringContaining("no email") },
      { status: "fail", code: "invalid_payload", message: expect.stringContaining("FNAME") },
    ]);
    expect(mc.member("ada@tessera.dev")).toMatchObject({
      status: "subscribed",
      merge_fields: { FNAME: "Ada", PLAN: "pro" },
    });
    expect(mc.member("bob@tessera.dev")).toBeUndefined();
    expect(mc.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`POST ${listPath}`]);
    expect(requestBody(0)).toMatchObject({ update_existing: true, members: [{ status: "subscribed" }, {}, {}] });
    expect(mc.requests[0].headers.authorization).toBe(`Basic ${btoa(`anystring:${mc.apiKey}`)}`);
  });

  it("never resubscribes an unsubscribed or cleaned member, yet updates its merge fields, and subscribed ones", async () => {
    mc.addMember("carol@tessera.dev", { status: "unsubscribed", merge_fields: { FNAME: "Carol" } });
    mc.addMember("dan@tessera.dev", { status: "cleaned", merge_fields: { FNAME: "Dan" } });
    mc.addMember("erin@tessera.dev", { status: "subscribed", merge_fields: { FNAME: "Erin" } });
    const outcomes = await mailchimp.upsertContacts(context(), [
      contact("carol@tessera.dev", { first_name: "Caroline", plan: "pro" }),
      contact("dan@tessera.dev", { first_name: "Daniel" }),
      contact("erin@tessera.dev", { first_name: "Erina" }),
    ]);
    // Nothing for the engine to retry or dead-letter: the member is as current as its consent allows.
    expect(outcomes).toEqual([{ status: "ok" }, { status: "ok" }, { status: "ok" }]);
    expect(mc.member("carol@tessera.dev")).toMatchObject({
      status: "unsubscribed",
      merge_fields: { FNAME: "Caroline", PLAN: "pro" },
    });
    expect(mc.member("dan@tessera.dev")).toMatchObject({ status: "cleaned", merge_fields: { FNAME: "Daniel" } });
    expect(mc.member("erin@tessera.dev")).toMatchObject({ status: "subscribed", merge_fields: { FNAME: "Erina" } });
    // The batch asked to subscribe all three; only the two it refused were patched, and without a status.
    expect(requestBody(0)).toMatchObject({ update_existing: true });
    const patches = mc.requests.filter((r) => r.method === "PATCH");
    expect(patches.map((r) => [r.path, JSON.parse(r.body)])).toEqual([
      [
        `${listPath}/members/${subscriberHash("carol@tessera.dev")}`,
        { merge_fields: { FNAME: "Caroline", PLAN: "pro" } },
      ],
      [`${listPath}/members/${subscriberHash("dan@tessera.dev")}`, { merge_fields: { FNAME: "Daniel" } }],
    ]);
  });

  it("with status_if_new pending, creates new members as pending and updates existing ones without a status", async () => {
    mc.addMember("sub@tessera.dev", { status: "subscribed", merge_fields: { FNAME: "S" } });
    mc.addMember("unsub@tessera.dev", { status: "unsubscribed", merge_fields: { FNAME: "U" } });
    mc.addMember("wait@tessera.dev", { status: "pending", merge_fields: { FNAME: "W" } });
    const outcomes = await mailchimp.upsertContacts(context({ status_if_new: "pending" }), [
      contact("new@tessera.dev", { first_name: "N" }),
      contact("sub@tessera.dev", { first_name: "S2" }),
      contact("unsub@tessera.dev", { first_name: "U2" }),
      contact("wait@tessera.dev", { first_name: "W2" }),
    ]);
    expect(outcomes).toEqual([{ status: "ok" }, { status: "ok" }, { status: "ok" }, { status: "ok" }]);
    expect(mc.member("new@tessera.dev")?.status).toBe("pending");
    expect(mc.member("sub@tessera.dev")).toMatchObject({ status: "subscribed", merge_fields: { FNAME: "S2" } });
    expect(mc.member("unsub@tessera.dev")).toMatchObject({ status: "unsubscribed", merge_fields: { FNAME: "U2" } });
    expect(mc.member("wait@tessera.dev")).toMatchObject({ status: "pending", merge_fields: { FNAME: "W2" } });
    expect(requestBody(0).update_existing).toBe(false);
    expect(requestBody(0).members.map((m: { status: string }) => m.status)).toEqual(Array(4).fill("pending"));
    const patches = mc.requests.filter((r) => r.method === "PATCH");
    expect(patches.map((r) => JSON.parse(r.body))).toEqual([
      { merge_fields: { FNAME: "S2" } },
      { merge_fields: { FNAME: "U2" } },
      { merge_fields: { FNAME: "W2" } },
    ]);
  });

  it("sends an address given twice once, and both items share its outcome", async () => {
    const outcomes = await mailchimp.upsertContacts(context(), [
      contact("ada@tessera.dev", { first_name: "Old" }),
      contact("Ada@Tessera.dev", { first_name: "New" }),
    ]);
    expect(outcomes).toEqual([{ status: "ok" }, { status: "ok" }]);
    expect(requestBody(0).members).toHaveLength(1);
    expect(mc.member("ada@tessera.dev")?.merge_fields).toEqual({ FNAME: "New" });
  });

  it("answers a Mailchimp 5xx with a retry for every contact, honouring Retry-After", async () => {
    mc.fault({
      match: { method: "POST", path: listPath },
      respond: { status: 503, headers: { "retry-after": "7" }, body: { title: "Service Unavailable", status: 503 } },
    });
    const outcomes = await mailchimp.upsertContacts(context(), [
      contact("ada@tessera.dev", { first_name: "Ada" }),
      contact(undefined),
    ]);
    expect(outcomes[0]).toEqual({ status: "retry", reason: expect.stringContaining("503"), retryAfterMs: 7000 });
    expect(outcomes[1].status).toBe("skip");
    expect(mc.member("ada@tessera.dev")).toBeUndefined();
  });

  it("throws Throttled when an 11th call is in flight beside 10 others (Mailchimp's connection limit)", async () => {
    const release = mc.hold();
    const ctx = context();
    const calls = Array.from({ length: 11 }, (_, i) =>
      mailchimp.upsertContacts(ctx, [contact(`c${i}@tessera.dev`, { first_name: "C" })]),
    );
    // Ten are held by the mock, so the first call to settle is the one it refused.
    const first = await Promise.race(
      calls.map((call) =>
        call.then(
          (outcomes) => outcomes,
          (error) => error,
        ),
      ),
    );
    expect(first).toBeInstanceOf(Throttled);
    expect((first as Throttled).retryAfterMs).toBeGreaterThan(0);
    release();
    const settled = await Promise.allSettled(calls);
    expect(settled.filter((s) => s.status === "rejected")).toHaveLength(1);
    expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(10);
  });

  it("throws Throttled on Mailchimp's bare 403 under load, and AuthRefused on a refused key", async () => {
    mc.fault({ match: { method: "POST", path: listPath }, respond: { status: 403, body: "" } });
    await expect(mailchimp.upsertContacts(context(), [contact("ada@tessera.dev")])).rejects.toBeInstanceOf(Throttled);
    await expect(
      mailchimp.upsertContacts(context({ api_key: "wrong-us21" }), [contact("ada@tessera.dev")]),
    ).rejects.toBeInstanceOf(AuthRefused);
  });
});

describe("mailchimp.applyMemberships", () => {
  const vip = { key: "vip", name: "tessera_vip" };

  it("creates the static segment once, then uses the cached id; a new store finds it by name", async () => {
    mc.addMember("ada@tessera.dev");
    mc.addMember("bob@tessera.dev");
    const store = new Map<string, string>();
    expect(await mailchimp.applyMemberships(context({}, store), vip, [membership("ada@tessera.dev", true)])).toEqual([
      { status: "ok" },
    ]);
    expect(await mailchimp.applyMemberships(context({}, store), vip, [membership("bob@tessera.dev", true)])).toEqual([
      { status: "ok" },
    ]);
    const segmentCalls = () => mc.requests.filter((r) => r.path === `${listPath}/segments`).map((r) => r.method);
    expect(segmentCalls()).toEqual(["GET", "POST"]);
    expect(requestBody(1)).toEqual({ name: "tessera_vip", static_segment: [] });

    await mailchimp.applyMemberships(context(), vip, [membership("ada@tessera.dev", false)]);
    expect(segmentCalls()).toEqual(["GET", "POST", "GET"]);
    expect(mc.segmentNames()).toEqual(["tessera_vip"]);
    expect(mc.segmentMembers("tessera_vip")).toEqual(["bob@tessera.dev"]);
  });

  it("finds the segment on a later page of a long segment list", async () => {
    for (let i = 0; i < 1000; i++) mc.addSegment(`other_${i}`);
    const id = mc.addSegment("tessera_vip");
    mc.addMember("ada@tessera.dev");
    const store = new Map<string, string>();
    await mailchimp.applyMemberships(context({}, store), vip, [membership("ada@tessera.dev", true)]);
    expect(mc.requests.filter((r) => r.path === `${listPath}/segments`).map((r) => [r.method, r.query.offset])).toEqual(
      [
        ["GET", "0"],
        ["GET", "1000"],
      ],
    );
    expect([...store.values()]).toEqual([String(id)]);
    expect(mc.segmentMembers("tessera_vip")).toEqual(["ada@tessera.dev"]);
  });

  it("adds then removes members, with per-item outcomes for strangers and email-less profiles", async () => {
    mc.addMember("ada@tessera.dev");
    mc.addMember("bob@tessera.dev");
    const ctx = context();
    expect(
      await mailchimp.applyMemberships(ctx, vip, [
        membership("ada@tessera.dev", true),
        membership("stranger@tessera.dev", true),
        membership(undefined, true),
        membership("bob@tessera.dev", true),
      ]),
    ).toEqual([
      { status: "ok" },
      { status: "fail", code: "not_found", message: expect.stringContaining("Mailchimp") },
      { status: "skip", reason: expect.any(String) },
      { status: "ok" },
    ]);
    expect(mc.segmentMembers("tessera_vip")).toEqual(["ada@tessera.dev", "bob@tessera.dev"]);

    expect(
      await mailchimp.applyMemberships(ctx, vip, [
        membership("ada@tessera.dev", false),
        membership("stranger@tessera.dev", false),
      ]),
    ).toEqual([{ status: "ok" }, { status: "ok" }]);
    expect(mc.segmentMembers("tessera_vip")).toEqual(["bob@tessera.dev"]);
    const last = JSON.parse(mc.requests.at(-1)?.body ?? "{}");
    expect(last).toEqual({ members_to_add: [], members_to_remove: ["ada@tessera.dev", "stranger@tessera.dev"] });
  });

  it("swaps a member's former email for the new one in one call (an email change)", async () => {
    mc.addMember("ada@old.dev");
    mc.addMember("ada@new.dev");
    const ctx = context();
    await mailchimp.applyMemberships(ctx, vip, [membership("ada@old.dev", true)]);
    expect(
      await mailchimp.applyMemberships(ctx, vip, [membership("ada@new.dev", true), membership("ada@old.dev", false)]),
    ).toEqual([{ status: "ok" }, { status: "ok" }]);
    expect(mc.segmentMembers("tessera_vip")).toEqual(["ada@new.dev"]);
  });

  it("recreates a segment deleted in Mailchimp since its id was cached", async () => {
    const store = new Map<string, string>();
    mc.addMember("ada@tessera.dev");
    await mailchimp.applyMemberships(context({}, store), vip, [membership("ada@tessera.dev", true)]);
    mc.reset();
    mc.addMember("ada@tessera.dev");
    expect(await mailchimp.applyMemberships(context({}, store), vip, [membership("ada@tessera.dev", true)])).toEqual([
      { status: "ok" },
    ]);
    expect(mc.segmentMembers("tessera_vip")).toEqual(["ada@tessera.dev"]);
  });

  it("answers a 5xx with a retry for every item", async () => {
    mc.fault({ match: { path: /\/segments/ }, respond: { status: 500, body: { title: "Internal Server Error" } } });
    const outcomes = await mailchimp.applyMemberships(context(), vip, [membership("ada@tessera.dev", true)]);
    expect(outcomes).toEqual([{ status: "retry", reason: expect.stringContaining("500") }]);
  });
});

/** A GDPR delete of a person who had these emails, and these vendor ids recorded. */
const person = (emails: string[], vendorIds: string[] = []): ErasedContact => ({
  profileId: "p1",
  emails,
  vendorIds,
  identifiers: emails.map((value) => ({ type: "email", value })),
});

describe("mailchimp.deleteContact", () => {
  it("deletes permanently at the MD5 of the lowercased email; the address can't be re-imported", async () => {
    mc.addMember("ada@tessera.dev", { merge_fields: { FNAME: "Ada" } });
    const outcome = await mailchimp.deleteContact(context(), person(["Ada@Tessera.DEV"]));
    expect(outcome).toEqual({ status: "ok" });
    expect(mc.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST ${listPath}/members/${nodeMd5("ada@tessera.dev")}/actions/delete-permanent`,
    ]);
    expect(mc.member("ada@tessera.dev")).toBeUndefined();
    const [again] = await mailchimp.upsertContacts(context(), [contact("ada@tessera.dev", { first_name: "Ada" })]);
    expect(again).toMatchObject({ status: "fail", code: "compliance" });
  });

  it("counts a member Mailchimp doesn't have as deleted, but not a missing audience", async () => {
    expect(await mailchimp.deleteContact(context(), person(["ghost@tessera.dev"]))).toEqual({
      status: "ok",
    });
    expect(await mailchimp.deleteContact(context({ list_id: "nope" }), person(["a@b.co"]))).toEqual({
      status: "fail",
      code: "config",
      message: expect.stringContaining("nope"),
    });
    expect((await mailchimp.deleteContact(context(), person([]))).status).toBe("skip");
  });

  it("deletes permanently the member of every email a merged person had", async () => {
    for (const email of ["a@tessera.dev", "b@tessera.dev", "stays@tessera.dev"]) mc.addMember(email);
    expect(
      await mailchimp.deleteContact(context(), person(["a@tessera.dev", "b@tessera.dev", "ghost@tessera.dev"])),
    ).toEqual({ status: "ok" });
    expect(mc.member("a@tessera.dev")).toBeUndefined();
    expect(mc.member("b@tessera.dev")).toBeUndefined();
    expect(mc.member("stays@tessera.dev")).toBeDefined();
    expect(mc.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST ${listPath}/members/${nodeMd5("a@tessera.dev")}/actions/delete-permanent`,
      `POST ${listPath}/members/${nodeMd5("b@tessera.dev")}/actions/delete-permanent`,
      `POST ${listPath}/members/${nodeMd5("ghost@tessera.dev")}/actions/delete-permanent`,
      `GET ${listPath}`,
    ]);
  });
});

describe("mailchimp.testConnection", () => {
  it("passes with a good key and audience, and says why otherwise", async () => {
    await expect(mailchimp.testConnection(context())).resolves.toBeUndefined();
    expect(mc.requests.map((r) => r.path)).toEqual(["/3.0/ping", listPath]);
    await expect(mailchimp.testConnection(context({ list_id: "nope" }))).rejects.toThrow(/Resource Not Found/);
    await expect(mailchimp.testConnection(context({ api_key: "bad-us21" }))).rejects.toBeInstanceOf(AuthRefused);
  });
});

const webhookConfig = { api_key: mc.apiKey, list_id: mc.listId, webhook_secret: "whsec_4f1c9a7e2b" };
const received: Engagement[] = [];
const receiver = await startMockVendor((app) => {
  // What the webhook route does: handshake, verify on the raw bytes, then parse.
  app.all("/v1/webhooks/:destination", async (c) => {
    const req = await rawInbound(c.req.raw);
    const handshake = mailchimpInbound.handshake?.(req);
    if (handshake) return handshake;
    const verdict = await mailchimpInbound.verify(req, webhookConfig, Date.now());
    if (!verdict.ok) return c.json({ error: verdict.reason }, 401);
    received.push(...mailchimpInbound.parse(req));
    return c.body(null, 204);
  });
});
afterAll(() => receiver.stop());

describe("mailchimpInbound", () => {
  beforeEach(() => {
    received.length = 0;
  });
  const hook = (secret?: string) =>
    `${receiver.url}/v1/webhooks/dst_1${secret === undefined ? "" : `?secret=${encodeURIComponent(secret)}`}`;
  const unsubscribe = webhookFields("unsubscribe", "2026-03-26 21:40:57", {
    action: "unsub",
    reason: "manual",
    id: "8a25ff1d98",
    list_id: "a6b5da1054",
    email: "Ada@Tessera.dev",
    email_type: "html",
    ip_opt: "10.20.10.30",
    campaign_id: "cb398d21d2",
    "merges][EMAIL": "Ada@Tessera.dev",
  });

  it("answers 200 to Mailchimp's GET check of the URL", async () => {
    expect((await mc.checkWebhook(hook())).status).toBe(200);
  });

  it("refuses a missing or wrong secret before parsing anything", async () => {
    expect((await mc.emitWebhook(hook(), unsubscribe)).status).toBe(401);
    expect((await mc.emitWebhook(hook("whsec_wrong"), unsubscribe)).status).toBe(401);
    expect(received).toEqual([]);
  });

  it("turns unsubscribe into Unsubscribed, with the same event id on redelivery", async () => {
    expect((await mc.emitWebhook(hook(webhookConfig.webhook_secret), unsubscribe)).status).toBe(204);
    await mc.emitWebhook(hook(webhookConfig.webhook_secret), unsubscribe);
    expect(received[0]).toEqual({
      vendorEventId: "unsubscribe:8a25ff1d98:2026-03-26 21:40:57",
      event: "Unsubscribed",
      email: "ada@tessera.dev",
      occurredAt: "2026-03-26T21:40:57.000Z",
      properties: { list_id: "a6b5da1054", campaign_id: "cb398d21d2", reason: "manual", action: "unsub" },
    });
    expect(received[1].vendorEventId).toBe(received[0].vendorEventId);
  });

  it("turns cleaned into Email Bounced (hard) or Email Marked as Spam (abuse), and leaves other kinds out", async () => {
    const url = hook(webhookConfig.webhook_secret);
    const cleaned = (reason: string) =>
      webhookFields("cleaned", "2026-03-27 08:00:00", {
        list_id: "a6b5da1054",
        campaign_id: "4fjk2ma9xd",
        reason,
        email: "bob@tessera.dev",
      });
    await mc.emitWebhook(url, cleaned("hard"));
    await mc.emitWebhook(url, cleaned("abuse"));
    await mc.emitWebhook(url, webhookFields("subscribe", "2026-03-27 08:00:00", { email: "new@tessera.dev" }));
    expect(received.map((e) => [e.event, e.email, e.properties.reason])).toEqual([
      ["Email Bounced", "bob@tessera.dev", "hard"],
      ["Email Marked as Spam", "bob@tessera.dev", "abuse"],
    ]);
    expect(received[0].properties.bounce_type).toBe("hard");
    // The bounce's id is the one the poller gives the campaign's bounce activity; the complaint's is the webhook's own
    // (`cleaned` carries no data[id]: the address stands in for it).
    expect(received[0].vendorEventId).toBe("bounce:4fjk2ma9xd:bob@tessera.dev");
    expect(received[1].vendorEventId).toBe("cleaned:bob@tessera.dev:2026-03-27 08:00:00");
  });
});

describe("mailchimpPoller", () => {
  const now = Date.parse("2026-04-01T12:00:00Z");
  const ctx = () => context({}, new Map(), () => now);

  it("maps opens, clicks and bounces since the cursor, and advances it to the latest activity", async () => {
    mc.addCampaign("c_recent", "2026-03-30T09:00:00+00:00");
    mc.addCampaign("c_old", "2026-02-01T09:00:00+00:00");
    mc.addActivity("c_recent", "Ada@Tessera.dev", { action: "open", timestamp: "2026-03-31T09:00:00+00:00" });
    mc.addActivity("c_recent", "ada@tessera.dev", { action: "open", timestamp: "2026-04-01T10:00:00+00:00" });
    mc.addActivity("c_recent", "ada@tessera.dev", {
      action: "click",
      timestamp: "2026-04-01T10:05:00+00:00",
      url: "https://tessera.dev/pricing",
    });
    mc.addActivity("c_recent", "bob@tessera.dev", {
      action: "bounce",
      type: "hard",
      timestamp: "2026-04-01T10:10:00+00:00",
    });
    mc.addActivity("c_old", "ada@tessera.dev", { action: "open", timestamp: "2026-04-01T10:20:00+00:00" });

    const first = await mailchimpPoller.poll(ctx(), "2026-04-01T09:30:00.000Z");
    expect(first.engagements.map((e) => [e.event, e.email, e.occurredAt])).toEqual([
      ["Email Opened", "ada@tessera.dev", "2026-04-01T10:00:00.000Z"],
      ["Email Link Clicked", "ada@tessera.dev", "2026-04-01T10:05:00.000Z"],
      ["Email Bounced", "bob@tessera.dev", "2026-04-01T10:10:00.000Z"],
    ]);
    expect(first.engagements[1].properties).toMatchObject({
      campaign_id: "c_recent",
      url: "https://tessera.dev/pricing",
    });
    expect(first.engagements[2].properties).toMatchObject({ bounce_type: "hard" });
    expect(first).toMatchObject({ cursor: "2026-04-01T10:10:00.000Z", more: false });
    const campaigns = mc.requests.find((r) => r.path === "/3.0/campaigns");
    expect(campaigns?.query).toMatchObject({
      list_id: mc.listId,
      status: "sent",
      since_send_time: "2026-03-02T12:00:00+00:00",
    });

    mc.addActivity("c_recent", "bob@tessera.dev", { action: "open", timestamp: "2026-04-01T11:00:00+00:00" });
    // Recorded by Mailchimp after the first poll, though it happened before its cursor.
    mc.addActivity("c_recent", "carol@tessera.dev", { action: "open", timestamp: "2026-04-01T10:08:00+00:00" });
    const second = await mailchimpPoller.poll(ctx(), first.cursor);
    const seen = new Set(first.engagements.map((e) => e.vendorEventId));
    // What the 15-minute overlap reads again keeps its id, so it is stored once.
    expect(second.engagements.filter((e) => !seen.has(e.vendorEventId)).map((e) => [e.event, e.email])).toEqual([
      ["Email Opened", "bob@tessera.dev"],
      ["Email Opened", "carol@tessera.dev"],
    ]);
    expect(second.cursor).toBe("2026-04-01T11:00:00.000Z");
  });

  it("starts a day back without a cursor and keeps the cursor when nothing happened", async () => {
    mc.addCampaign("c_recent", "2026-03-30T09:00:00+00:00");
    mc.addActivity("c_recent", "ada@tessera.dev", { action: "open", timestamp: "2026-03-30T10:00:00+00:00" });
    mc.addActivity("c_recent", "ada@tessera.dev", { action: "open", timestamp: "2026-03-31T13:00:00+00:00" });
    const first = await mailchimpPoller.poll(ctx(), undefined);
    expect(first.engagements.map((e) => e.occurredAt)).toEqual(["2026-03-31T13:00:00.000Z"]);
    const idle = await mailchimpPoller.poll(ctx(), first.cursor);
    expect(idle.cursor).toBe(first.cursor);
  });
});
