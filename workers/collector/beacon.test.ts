import { exports } from "cloudflare:workers";
import type { OpenAPIV3_1 } from "openapi-types";
import { describe, expect, it } from "vitest";
import { seedWorkspace } from "../test-support/seed";
import { post, storedEvents, uid } from "../test-support/worker-requests";

const { workspaceId, writeKey } = await seedWorkspace("rudderstack-beacon");

/** One event as RudderStack's browser SDK (3.x) puts it in a batch. */
function rudderTrack(anonymousId: string, event: string) {
  const now = new Date().toISOString();
  return {
    type: "track",
    event,
    properties: { plan: "pro" },
    anonymousId,
    channel: "web",
    context: { library: { name: "RudderLabs JavaScript SDK", version: "3.34.1" }, locale: "en-US" },
    integrations: { All: true },
    messageId: crypto.randomUUID(),
    originalTimestamp: now,
    sentAt: now,
  };
}

/**
 * What `navigator.sendBeacon(url, blob)` puts on the wire: a POST of the Blob (its type the Content-Type), no
 * Authorization header, the page's Origin, credentials included. RudderStack's beacon queue sends
 * `<dataPlaneUrl>/beacon/v1/batch?writeKey=<key>` and a `text/plain` Blob of `{batch, sentAt}`.
 */
function sendBeacon(url: string, batch: unknown[]): Promise<Response> {
  const blob = new Blob([JSON.stringify({ batch, sentAt: new Date().toISOString() })], { type: "text/plain" });
  return exports.default.fetch(`https://collect.test${url}`, {
    method: "POST",
    headers: { "content-type": blob.type, origin: "https://shop.example", "sec-fetch-mode": "no-cors" },
    body: blob,
  });
}

describe("RudderStack's browser SDK in beacon mode", () => {
  it("stores a beacon batch sent to /beacon/v1/batch with the write key in the query string", async () => {
    const anonymousId = uid("rs-anon");
    const res = await sendBeacon(`/beacon/v1/batch?writeKey=${writeKey}`, [
      rudderTrack(anonymousId, "Plan Chosen"),
      rudderTrack(anonymousId, "Checkout Started"),
    ]);

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, accepted: 2, rejected: [] });
    // The answer is readable by the page (a beacon's is not read, but the same SDK's other paths are).
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    const stored = await storedEvents(workspaceId, { type: "anonymous_id", value: anonymousId });
    expect(stored.map((e) => e.event)).toEqual(["Plan Chosen", "Checkout Started"]);
  });

  it("refuses an unknown write key in the query string with the 401 of any unknown key", async () => {
    const res = await sendBeacon(`/beacon/v1/batch?writeKey=wk_${crypto.randomUUID()}`, [
      rudderTrack(uid("rs-anon"), "Plan Chosen"),
    ]);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "authentication_error" } });
  });

  it("reads the query's write key on every ingestion path, after the Authorization header's and the body's", async () => {
    const anonymousId = uid("rs-anon");
    const unknown = `wk_${crypto.randomUUID()}`;
    // A new message each time: the same message id would be stored once.
    const batch = () => [rudderTrack(anonymousId, "Queried")];
    expect((await post(`/v1/batch?writeKey=${writeKey}`, { batch: batch() })).status).toBe(200);
    const track = { ...rudderTrack(anonymousId, "Queried Track"), type: undefined };
    expect((await post(`/v1/track?writeKey=${writeKey}`, track)).status).toBe(200);
    // The header's key and the body's come first: a live key in the query does not rescue an unknown one there …
    expect((await post(`/v1/batch?writeKey=${writeKey}`, { batch: batch() }, { key: unknown })).status).toBe(401);
    expect((await post(`/v1/batch?writeKey=${writeKey}`, { batch: batch(), writeKey: unknown })).status).toBe(401);
    // … and an unknown one in the query does not spoil theirs.
    expect((await post(`/v1/batch?writeKey=${unknown}`, { batch: batch() }, { key: writeKey })).status).toBe(200);
    expect((await post(`/v1/batch?writeKey=${unknown}`, { batch: batch(), writeKey })).status).toBe(200);
    const stored = await storedEvents(workspaceId, { type: "anonymous_id", value: anonymousId });
    expect(stored.map((e) => e.event).sort()).toEqual(["Queried", "Queried", "Queried", "Queried Track"]);
  });

  it("is documented in /openapi.json beside /v1/batch, with its preflight and the writeKey query parameter", async () => {
    const doc = await (await exports.default.fetch("http://x/openapi.json")).json<OpenAPIV3_1.Document>();
    const beacon = doc.paths?.["/beacon/v1/batch"];
    expect(beacon?.post?.operationId).toBe("ingestBeaconBatch");
    expect(beacon?.post?.responses?.["200"]).toBeDefined();
    expect(beacon?.options).toBeDefined();
    for (const path of ["/beacon/v1/batch", "/v1/batch", "/v1/t"]) {
      const parameters = doc.paths?.[path]?.post?.parameters as OpenAPIV3_1.ParameterObject[] | undefined;
      expect(
        parameters?.map((p) => `${p.in} ${p.name}`),
        path,
      ).toEqual(["query writeKey"]);
    }
  });
});
