import { describe, expect, it } from "vitest";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { collectorApp, postTo } from "../test-support/collector-app";
import { seedWorkspace } from "../test-support/seed";
import { storedEvents, uid } from "../test-support/worker-requests";
import type { AdmissionLimits } from "./admission";

const { workspaceId, writeKey } = await seedWorkspace("admission");
const batch = (anonymousId: string, messageId = uid("m")) => ({
  batch: [{ type: "track", event: "Busy", anonymousId, messageId }],
});

/** A collector whose ingestion waits at a gate (as under load), counting the requests that reached it. */
function gatedCollector(limits: AdmissionLimits) {
  let open!: () => void;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  let waiting = 0;
  const app = collectorApp({
    admission: limits,
    ingestDeps: (env) => {
      const deps = ingestDepsFor(env);
      return {
        ...deps,
        loadRules: async (ws) => {
          waiting++;
          await gate;
          return deps.loadRules(ws);
        },
      };
    },
  });
  const reached = async (n: number) => {
    for (let i = 0; waiting < n; i++) {
      if (i > 10_000) throw new Error(`only ${waiting} of ${n} requests reached ingestion`);
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  return { app, open, reached };
}

/** Polls (generously) until `identifier`'s profile holds `n` events. */
async function eventually(anonymousId: string, n: number) {
  for (let i = 0; i < 2_000; i++) {
    const events = await storedEvents(workspaceId, { type: "anonymous_id", value: anonymousId });
    if (events.length >= n) return events;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${anonymousId} never held ${n} events`);
}

describe("back-pressure", () => {
  it("refuses a request over the isolate's in-flight bound at once with 429 and Retry-After, serving the others", async () => {
    const { app, open, reached } = gatedCollector({ maxInFlight: 2, deadlineMs: 600_000, retryAfterSeconds: 3 });
    const [a, b, c] = [uid("anon"), uid("anon"), uid("anon")];
    const first = postTo(app, "/v1/batch", batch(a), writeKey);
    const second = postTo(app, "/v1/track", batch(b).batch[0], writeKey);
    await reached(2);

    const refused = await postTo(app, "/v1/batch", batch(c), writeKey);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("3");
    expect(await refused.json()).toEqual({
      error: { code: "rate_limit_error", message: expect.stringMatching(/at capacity.*retry/) },
    });

    open();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: c })).toEqual([]);
    // The slots are free again.
    expect((await postTo(app, "/v1/batch", batch(c), writeKey)).status).toBe(200);
  });

  it("answers 429 at its deadline, still stores what the request carried, and stores a retry once", async () => {
    const { app, open, reached } = gatedCollector({ maxInFlight: 8, deadlineMs: 50, retryAfterSeconds: 1 });
    const anon = uid("anon");
    const body = batch(anon, uid("late"));
    const late = postTo(app, "/v1/batch", body, writeKey);
    await reached(1);
    const answer = await late;
    expect(answer.status).toBe(429);
    expect(answer.headers.get("retry-after")).toBe("1");
    expect(await answer.json()).toEqual({
      error: { code: "rate_limit_error", message: expect.stringMatching(/did not finish within 50 ms.*retry/) },
    });

    open();
    expect((await eventually(anon, 1)).map((e) => e.messageId)).toEqual([body.batch[0].messageId]);
    // The client retries the same batch (same message id): acknowledged, stored once.
    expect((await postTo(app, "/v1/batch", body, writeKey)).status).toBe(200);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: anon })).toHaveLength(1);
  });
});
