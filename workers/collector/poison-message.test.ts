/**
 * Issue 10, finding 1: a message whose identifier held a lone UTF-16 surrogate was answered `200 accepted`, then
 * never stored, and took its valid sibling down with it (the D1 write failed for the whole batch, on every retry).
 */

import type { IngestResponse } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { seedWorkspace } from "../test-support/seed";
import { post, storedEvents, uid } from "../test-support/worker-requests";

const { workspaceId, writeKey } = await seedWorkspace("poison");

describe("a message that cannot be stored", () => {
  it.each([
    [
      "context.device.id",
      (a: string) => `{"type":"track","event":"E","anonymousId":"${a}-2","context":{"device":{"id":"X-\\ud800"}}}`,
    ],
    [
      "traits.email",
      (a: string) => `{"type":"identify","anonymousId":"${a}-2","traits":{"email":"x\\udc00@example.com"}}`,
    ],
    [
      "context.externalIds[0].id",
      (a: string) =>
        `{"type":"track","event":"E","anonymousId":"${a}-2","context":{"externalIds":[{"id":"\\ud800","type":"crm","collection":"users","encoding":"none"}]}}`,
    ],
  ])("is rejected at the door when %s holds a lone surrogate, and its sibling is stored", async (field, poison) => {
    const a = uid("anon");
    // Twice: the original failure needed the identifier to be seen a second time.
    for (let round = 0; round < 2; round++) {
      const raw = `{"batch":[{"type":"track","event":"Valid","anonymousId":"${a}","messageId":"${a}-${round}"},${poison(a)}]}`;
      const res = await post("/v1/batch", undefined, { key: writeKey, raw });
      expect(res.status).toBe(200);
      const body = (await res.json()) as IngestResponse;
      expect(body.accepted).toBe(1);
      expect(body.rejected).toHaveLength(1);
      expect(body.rejected[0].index).toBe(1);
      expect(body.rejected[0].error).toContain(`message.${field} is not valid Unicode text`);
    }
    const stored = await storedEvents(workspaceId, { type: "anonymous_id", value: a });
    expect(stored.map((m) => m.messageId)).toEqual([`${a}-0`, `${a}-1`]);
  });
});
