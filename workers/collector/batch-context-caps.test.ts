/**
 * Issue 10, finding 2: the batch's `context` is checked once but merged into every message, so 10,000 externalIds
 * in it reached the identity graph once per message (23.6 s, stalling other requests). The per-message caps apply
 * after the merge.
 */

import type { IngestResponse } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { seedWorkspace } from "../test-support/seed";
import { post, storedEvents, uid } from "../test-support/worker-requests";

const { workspaceId, writeKey } = await seedWorkspace("batch-context");
const externalIds = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `ext-${i}`, type: "crm" }));

describe("per-message caps after the batch context is merged", () => {
  it("rejects each message that the batch's externalIds push over the cap, naming the cap", async () => {
    const a = uid("anon");
    const res = await post(
      "/v1/batch",
      { batch: [{ type: "track", event: "E", anonymousId: a }], context: { externalIds: externalIds(10_000) } },
      { key: writeKey },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as IngestResponse;
    expect(body.accepted).toBe(0);
    expect(body.rejected).toEqual([
      {
        index: 0,
        messageId: expect.any(String),
        error:
          "batch[0]: context.externalIds has 10000 entries; the limit is 50 per message (with the batch's context)",
      },
    ]);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: a })).toEqual([]);
  });

  it("rejects a message whose own data plus the batch's context is over 32 KB, and keeps its small sibling", async () => {
    const a = uid("anon");
    const res = await post(
      "/v1/batch",
      {
        batch: [
          { type: "track", event: "Small", anonymousId: a },
          { type: "track", event: "Big", anonymousId: a, properties: { blob: "x".repeat(20_000) } },
        ],
        context: { page: { title: "y".repeat(20_000) } },
      },
      { key: writeKey },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as IngestResponse;
    expect(body.accepted).toBe(1);
    expect(body.rejected[0].index).toBe(1);
    expect(body.rejected[0].error).toMatch(
      /over the 32768-byte limit with the batch's context and integrations merged in/,
    );
    expect((await storedEvents(workspaceId, { type: "anonymous_id", value: a })).map((m) => m.event)).toEqual([
      "Small",
    ]);
  });

  it("rejects a message the batch's integrations push over 32 KB, as the batch's context would", async () => {
    const a = uid("anon");
    const res = await post(
      "/v1/batch",
      { batch: [{ type: "track", event: "E", anonymousId: a }], integrations: { Blob: { x: "y".repeat(40_000) } } },
      { key: writeKey },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as IngestResponse;
    expect(body.accepted).toBe(0);
    expect(body.rejected[0].error).toMatch(/over the 32768-byte limit with the batch's context and integrations/);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: a })).toEqual([]);
  });

  it("keeps at most 1,000 characters of a User-Agent header in context.userAgent", async () => {
    const a = uid("anon");
    const res = await post(
      "/v1/batch",
      { batch: [{ type: "track", event: "E", anonymousId: a }] },
      { key: writeKey, headers: { "user-agent": `Mozilla/5.0 ${"z".repeat(40_000)}` } },
    );
    expect(((await res.json()) as IngestResponse).accepted).toBe(1);
    const [stored] = await storedEvents(workspaceId, { type: "anonymous_id", value: a });
    expect(stored.context.userAgent).toHaveLength(1_000);
    expect(stored.context.userAgent).toMatch(/^Mozilla\/5\.0 z+$/);
  });
});
