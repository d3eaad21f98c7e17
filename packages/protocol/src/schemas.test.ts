import { OpenAPIHono } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ErrorBody } from "./errors";
import * as protocol from "./index";
import { IngestResponse } from "./ingest-response";
import { AcceptedMessage, BatchEnvelope, Message } from "./messages";
import { Profile, ProfileEventsPage } from "./profile";
import { IngestJob, SyncDeleteMessage } from "./queue-messages";

/** What analytics.js sends to `/v1/batch` (fields trimmed to the interesting ones). */
const envelope: BatchEnvelope = {
  batch: [
    {
      type: "track",
      event: "Order Completed",
      anonymousId: "5f1c8e2a-3b4d-4c6e-8f9a-0d1e2f3a4b5c",
      messageId: "ajs-next-1717243200000-a8f0",
      timestamp: "2025-06-01T11:59:58.123Z",
      properties: { order_id: "o-1", revenue: 42.5, products: [{ sku: "SKU-1", quantity: 2 }] },
      context: { library: { name: "analytics.js", version: "next-1.84.3" }, page: { path: "/checkout" } },
      integrations: {},
      _metadata: { bundled: ["Segment.io"] },
    },
    { type: "identify", userId: "u-42", traits: { email: "jane@example.com", plan: "pro" } },
    { type: "group", userId: "u-42", groupId: "acme", traits: { name: "Acme" } },
    { type: "alias", userId: "u-42", previousId: "5f1c8e2a-3b4d-4c6e-8f9a-0d1e2f3a4b5c" },
  ],
  sentAt: "2025-06-01T11:59:59.001Z",
  writeKey: "wk_live",
};

const profile: Profile = {
  id: "prf_01J0",
  created_at: "2025-06-01T11:59:59.000Z",
  updated_at: "2025-06-02T08:00:00.000Z",
  first_seen: "2025-06-01T11:59:58.123Z",
  last_seen: "2025-06-02T07:59:00.000Z",
  event_count: 12,
  identifiers: [
    { type: "anonymous_id", value: "5f1c8e2a", first_seen: "2025-06-01T11:59:58.123Z" },
    { type: "email", value: "jane@example.com", first_seen: "2025-06-01T12:05:00.000Z" },
    { type: "loyalty_id", value: "L-1", first_seen: "2025-06-01T12:05:00.000Z" },
  ],
  traits: { email: "jane@example.com", plan: "pro", address: { city: "Lyon" } },
  computed: { lifetime_value: 128.5 },
  audiences: [{ key: "big_spenders", since: "2025-06-02T08:00:00.000Z" }],
  merged_from: ["prf_01HZ"],
};

const reasonsOf = (schema: z.ZodType, value: unknown) => {
  const parsed = schema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
};

describe("BatchEnvelope", () => {
  it("accepts a realistic analytics.js batch and keeps the keys clients add", () => {
    const parsed = BatchEnvelope.parse(envelope);
    expect(parsed.batch).toHaveLength(4);
    expect(parsed.batch[0]).toMatchObject({ _metadata: { bundled: ["Segment.io"] } });
  });

  it("narrows a message by its type", () => {
    const first = BatchEnvelope.parse(envelope).batch[0];
    expect(first.type === "track" && first.event).toBe("Order Completed");
  });

  it("rejects a batch that is not a list, naming the field", () => {
    expect(reasonsOf(BatchEnvelope, { batch: { type: "track" } })[0]).toMatch(/^batch: /);
  });

  it("rejects a message of the batch with the reason validateMessage gives", () => {
    expect(reasonsOf(BatchEnvelope, { batch: [{ type: "track", anonymousId: "a" }] })).toEqual([
      "batch.0.event: track needs an event name (a string), got nothing",
    ]);
    expect(reasonsOf(Message, { type: "purchase", anonymousId: "a" })[0]).toMatch(/unknown type "purchase"/);
  });
});

describe("Profile", () => {
  it("accepts what GET /v1/profiles/:ref answers", () => {
    expect(Profile.parse(profile)).toEqual(profile);
  });

  it("rejects a wrong shape with the path of the bad field", () => {
    expect(reasonsOf(Profile, { ...profile, event_count: "12" })[0]).toMatch(/^event_count: .*number/);
    expect(
      reasonsOf(Profile, { ...profile, identifiers: [{ type: "E-Mail", value: "x", first_seen: "" }] })[0],
    ).toMatch(/^identifiers\.0\.type: /);
    expect(reasonsOf(Profile, { ...profile, traits: [] })[0]).toBe("traits: expected a JSON object, got an array");
  });
});

describe("ProfileEventsPage", () => {
  it("accepts stored messages, which always carry messageId, timestamp, receivedAt and context", () => {
    const stored: AcceptedMessage = {
      type: "track",
      event: "Order Completed",
      anonymousId: "a1",
      messageId: "m1",
      timestamp: "2025-06-01T11:59:58.123Z",
      receivedAt: "2025-06-01T11:59:59.100Z",
      context: { ip: "203.0.113.9" },
    };
    const page: ProfileEventsPage = { data: [stored], cursor: { has_more: false, next: null } };
    expect(ProfileEventsPage.parse(page)).toEqual(page);
    expect(reasonsOf(AcceptedMessage, { ...stored, receivedAt: undefined })[0]).toMatch(/^receivedAt: /);
  });
});

describe("responses and queue messages", () => {
  it("accept their documented shapes", () => {
    const accepted: IngestResponse = {
      success: true,
      accepted: 1,
      rejected: [{ index: 1, messageId: "m2", error: "batch[1]: …" }],
    };
    expect(IngestResponse.parse(accepted)).toEqual(accepted);
    const conflict: ErrorBody = { error: { code: "conflict", message: "audience big_spenders exists" } };
    expect(ErrorBody.parse(conflict)).toEqual(conflict);
    const job: IngestJob = {
      kind: "deliver",
      workspaceId: "ws_1",
      profileId: "prf_1",
      messages: [],
      identifiers: [{ type: "email", value: "jane@example.com", firstSeen: 1717243200000 }],
    };
    expect(IngestJob.parse(job)).toEqual(job);
    const erase: SyncDeleteMessage = { kind: "delete", workspaceId: "ws_1", profileIds: ["prf_1"], identifiers: [] };
    expect(SyncDeleteMessage.parse(erase)).toEqual(erase);
  });

  it("reject unknown error codes and job kinds", () => {
    expect(reasonsOf(ErrorBody, { error: { code: "teapot", message: "" } })[0]).toMatch(/^error\.code: /);
    expect(reasonsOf(IngestJob, { kind: "replay", workspaceId: "ws_1" })[0]).toMatch(/^kind: /);
    expect(reasonsOf(IngestResponse, { success: false, accepted: 0, rejected: [] })[0]).toMatch(/^success: /);
  });
});

describe("the exported schemas", () => {
  const schemas = Object.entries(protocol as Record<string, unknown>).filter(
    (entry): entry is [string, z.ZodType] => entry[1] instanceof z.ZodType,
  );

  it("each carry their own name as metadata id, which names their OpenAPI component", () => {
    expect(schemas.length).toBeGreaterThanOrEqual(20);
    for (const [name, schema] of schemas) expect(schema.meta()?.id, name).toBe(name);
  });

  it("all convert to one valid OpenAPI 3.1 document, each as a named component", () => {
    const app = new OpenAPIHono();
    for (const [name, schema] of schemas) {
      const request =
        schema === protocol.ProfileEventsQuery
          ? { query: protocol.ProfileEventsQuery }
          : { body: { content: { "application/json": { schema } } } };
      app.openAPIRegistry.registerPath({
        method: "post",
        path: `/${name}`,
        request,
        responses: { 200: { description: name } },
      });
    }
    const doc = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "Tessera", version: "1" } });
    const components = Object.keys(doc.components?.schemas ?? {});
    expect(components).toEqual(
      expect.arrayContaining(schemas.map(([name]) => name).filter((n) => n !== "ProfileEventsQuery")),
    );
    const limit = doc.paths?.["/ProfileEventsQuery"].post?.parameters?.find((p) => "name" in p && p.name === "limit");
    expect(limit).toMatchObject({ in: "query", required: false, schema: { type: "integer", default: 50 } });
  });
});
