import { describe, expect, it } from "vitest";
import { seedWorkspace } from "../test-support/seed";
import { post, storedEvents, uid } from "../test-support/worker-requests";

const { workspaceId, writeKey } = await seedWorkspace("enrich");
const anon = (value: string) => ({ type: "anonymous_id", value });

async function storeOne(body: unknown, path = "/v1/batch", options: Parameters<typeof post>[2] = {}) {
  const res = await post(path, body, { key: writeKey, ...options });
  expect(res.status).toBe(200);
}

describe("enrichment", () => {
  it("corrects the timestamp for client clock skew using sentAt", async () => {
    const a = uid("anon");
    // The client's clock runs an hour fast; the event happened 10 s before it sent the batch.
    const sentAt = new Date(Date.now() + 3_600_000);
    const original = new Date(sentAt.getTime() - 10_000).toISOString();
    await storeOne({
      sentAt: sentAt.toISOString(),
      batch: [{ type: "track", event: "Skewed", anonymousId: a, timestamp: original }],
    });
    const [e] = await storedEvents(workspaceId, anon(a));
    expect(Date.parse(e.receivedAt) - Date.parse(e.timestamp)).toBe(10_000);
    expect(e.originalTimestamp).toBe(original);
    expect(e.sentAt).toBe(sentAt.toISOString());
  });

  it("prefers the message's own sentAt over the batch's", async () => {
    const a = uid("anon");
    const t = "2025-01-01T00:00:00.000Z";
    await storeOne({
      sentAt: "2025-01-01T00:10:00.000Z",
      batch: [{ type: "track", event: "Own", anonymousId: a, timestamp: t, sentAt: "2025-01-01T00:00:05.000Z" }],
    });
    const [e] = await storedEvents(workspaceId, anon(a));
    expect(Date.parse(e.receivedAt) - Date.parse(e.timestamp)).toBe(5_000);
  });

  it("keeps the client timestamp without sentAt, and uses receivedAt without either", async () => {
    const a = uid("anon");
    await storeOne({
      batch: [
        { type: "track", event: "Timed", anonymousId: a, timestamp: "2024-05-05T05:05:05.000Z" },
        { type: "track", event: "Untimed", anonymousId: a },
      ],
    });
    const events = await storedEvents(workspaceId, anon(a));
    const timed = events.find((e) => e.type === "track" && e.event === "Timed");
    const untimed = events.find((e) => e.type === "track" && e.event === "Untimed");
    expect(timed?.timestamp).toBe("2024-05-05T05:05:05.000Z");
    expect(untimed?.timestamp).toBe(untimed?.receivedAt);
    expect(Math.abs(Date.parse(untimed?.receivedAt ?? "") - Date.now())).toBeLessThan(60_000);
  });

  it("without sentAt takes timestamp over originalTimestamp: an archived message keeps its corrected time", async () => {
    const a = uid("anon");
    // A message as a CDP's archive holds it, its sentAt (the earlier delivery's) left out by the importer.
    const archived = {
      type: "track",
      event: "Archived",
      anonymousId: a,
      originalTimestamp: "2024-03-01T10:14:00.000Z",
      timestamp: "2024-03-01T10:15:00.900Z",
      receivedAt: "2024-03-01T10:15:01.000Z",
    };
    await storeOne({ batch: [archived] });
    const [e] = await storedEvents(workspaceId, anon(a));
    expect(e.timestamp).toBe("2024-03-01T10:15:00.900Z");
    expect(e.originalTimestamp).toBe("2024-03-01T10:14:00.000Z");
    expect(Math.abs(Date.parse(e.receivedAt) - Date.now())).toBeLessThan(60_000);
  });

  it("merges the batch context into each message, the message winning", async () => {
    const a = uid("anon");
    await storeOne({
      context: { library: { name: "analytics-node", version: "3.1.0" }, locale: "en-US", campaign: { source: "news" } },
      batch: [
        { type: "track", event: "Ctx", anonymousId: a, context: { locale: "fr-FR", campaign: { medium: "email" } } },
      ],
    });
    const [e] = await storedEvents(workspaceId, anon(a));
    expect(e.context).toMatchObject({
      library: { name: "analytics-node", version: "3.1.0" },
      locale: "fr-FR",
      campaign: { source: "news", medium: "email" },
    });
  });

  it("adds ip and user agent from the request, generates a messageId, keeps library", async () => {
    const a = uid("anon");
    await storeOne(
      { event: "Geo", anonymousId: a, context: { library: { name: "analytics.js", version: "1.84.3" } } },
      "/v1/track",
      {
        headers: { "cf-connecting-ip": "203.0.113.7", "user-agent": "Mozilla/5.0 Test" },
        // miniflare's placeholder: outside production request.cf describes no client, so it is no geo (issue 10, #10).
        cf: {
          colo: "DFW",
          country: "US",
          region: "Texas",
          city: "Austin",
          latitude: "30.27130",
          longitude: "-97.74260",
        },
      },
    );
    const [e] = await storedEvents(workspaceId, anon(a));
    expect(e.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.context).toMatchObject({
      ip: "203.0.113.7",
      userAgent: "Mozilla/5.0 Test",
      library: { name: "analytics.js", version: "1.84.3" },
    });
    // Production geo from request.cf is covered in enrich.test.ts.
    expect(e.context).not.toHaveProperty("location");
  });

  it("keeps a user agent and ip the message already carries (server-side clients)", async () => {
    const a = uid("anon");
    await storeOne(
      { event: "Server", anonymousId: a, context: { ip: "198.51.100.1", userAgent: "Browser/1" } },
      "/v1/track",
      {
        headers: { "cf-connecting-ip": "203.0.113.7", "user-agent": "node-fetch" },
      },
    );
    const [e] = await storedEvents(workspaceId, anon(a));
    expect(e.context).toMatchObject({ ip: "198.51.100.1", userAgent: "Browser/1" });
  });
});

describe("idempotency", () => {
  it("stores a message sent twice (an SDK retry) once", async () => {
    const a = uid("anon");
    const body = { batch: [{ type: "track", event: "Retried", anonymousId: a, messageId: uid("m") }] };
    await storeOne(body);
    await storeOne(body);
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(1);
  });

  it("stores overlapping batches' shared messages once", async () => {
    const a = uid("anon");
    const m = (id: string) => ({ type: "track", event: "Overlap", anonymousId: a, messageId: id });
    const [m1, m2, m3] = [uid("m"), uid("m"), uid("m")];
    await storeOne({ batch: [m(m1), m(m2)] });
    await storeOne({ batch: [m(m2), m(m3)] });
    const ids = (await storedEvents(workspaceId, anon(a))).map((e) => e.messageId).sort();
    expect(ids).toEqual([m1, m2, m3].sort());
  });

  it("stores a message once when two requests carry it at the same time (beacon + retry)", async () => {
    const a = uid("anon");
    const body = { batch: [{ type: "track", event: "Twice", anonymousId: a, messageId: uid("m") }] };
    await Promise.all([storeOne(body), storeOne(body)]);
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(1);
  });
});
