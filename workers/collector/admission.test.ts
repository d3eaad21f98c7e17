import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { collectorApp, postTo } from "../test-support/collector-app";
import { basicAuth, seedWorkspace } from "../test-support/seed";
import { storedEvents, uid } from "../test-support/worker-requests";
import type { AdmissionLimits } from "./admission";

const { workspaceId, writeKey } = await seedWorkspace("admission");
/**
 * The deadline of the tests where a gated request must pass it: short enough to wait out, long enough that the same
 * collector's ungated retry (a whole real request on a busy machine) finishes well within it.
 */
const LATE_MS = 2_000;
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
  return { app, open, reached, reachedSoFar: () => waiting };
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
    const { app, open, reached } = gatedCollector({ maxInFlight: 8, deadlineMs: LATE_MS, retryAfterSeconds: 1 });
    const anon = uid("anon");
    const body = batch(anon, uid("late"));
    const late = postTo(app, "/v1/batch", body, writeKey);
    await reached(1);
    const answer = await late;
    expect(answer.status).toBe(429);
    expect(answer.headers.get("retry-after")).toBe("1");
    expect(await answer.json()).toEqual({
      error: {
        code: "rate_limit_error",
        message: expect.stringMatching(new RegExp(`did not finish within ${LATE_MS} ms.*retry`)),
      },
    });

    open();
    expect((await eventually(anon, 1)).map((e) => e.messageId)).toEqual([body.batch[0].messageId]);
    // The client retries the same batch (same message id): acknowledged, stored once.
    expect((await postTo(app, "/v1/batch", body, writeKey)).status).toBe(200);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: anon })).toHaveLength(1);
  });

  it("drops a request answered at its deadline before its work began (its body still arriving); the retry is stored once", async () => {
    const { app, open, reachedSoFar } = gatedCollector({ maxInFlight: 8, deadlineMs: LATE_MS, retryAfterSeconds: 1 });
    open();
    const anon = uid("anon");
    const body = batch(anon, uid("slow-body"));
    let release!: () => void;
    const arrived = new Promise<void>((r) => {
      release = r;
    });
    // A client whose body is still on its way when the deadline comes.
    const slowBody = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await arrived;
        controller.enqueue(new TextEncoder().encode(JSON.stringify(body)));
        controller.close();
      },
    });
    const background: Promise<unknown>[] = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => background.push(p), passThroughOnException() {}, props: {} };
    const errors = vi.spyOn(console, "error");
    const answer = await app.request(
      "/v1/batch",
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: basicAuth(writeKey) },
        body: slowBody,
      },
      env,
      ctx as unknown as ExecutionContext,
    );
    expect(answer.status).toBe(429);

    release();
    await Promise.all(background);
    // Nothing of it was acknowledged: it did none of the work, and said nothing went wrong.
    expect(reachedSoFar()).toBe(0);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: anon })).toEqual([]);
    expect(errors).not.toHaveBeenCalled();
    errors.mockRestore();

    expect((await postTo(app, "/v1/batch", body, writeKey)).status).toBe(200);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: anon })).toHaveLength(1);
  });

  it("makes a retry with the same Idempotency-Key wait for the running original instead of doing its work again", async () => {
    const { app, open, reached, reachedSoFar } = gatedCollector({
      maxInFlight: 8,
      deadlineMs: LATE_MS,
      retryAfterSeconds: 1,
    });
    const anon = uid("anon");
    const body = batch(anon, uid("keyed"));
    const keyed = { headers: { "idempotency-key": uid("batch") } };
    const original = await postTo(app, "/v1/batch", body, writeKey, keyed);
    expect(original.status).toBe(429);
    await reached(1);

    // The original is still at work: the retry waits out its own deadline, then asks to be retried, having done nothing.
    const retry = await postTo(app, "/v1/batch", body, writeKey, keyed);
    expect(retry.status).toBe(429);
    expect(retry.headers.get("retry-after")).toBe("1");
    expect(await retry.json()).toEqual({
      error: { code: "rate_limit_error", message: expect.stringMatching(/still working on this request.*retry/) },
    });
    expect(reachedSoFar()).toBe(1);

    // Another key (or none) is another request: it is worked on.
    const other = postTo(app, "/v1/batch", batch(uid("anon")), writeKey, { headers: { "idempotency-key": uid("b") } });
    await reached(2);

    // Once the original has ended, the retry runs (cheaply: all of it is stored) and is answered for real.
    open();
    expect((await eventually(anon, 1)).map((e) => e.messageId)).toEqual([body.batch[0].messageId]);
    const later = await postTo(app, "/v1/batch", body, writeKey, keyed);
    expect(later.status).toBe(200);
    expect(await later.json()).toEqual({ success: true, accepted: 1, duplicates: 1, rejected: [] });
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: anon })).toHaveLength(1);
    expect((await other).status).toBe(200);
  });

  it("lets a retry that arrives while its original finishes in time get its own answer without a 429", async () => {
    const { app, open, reached, reachedSoFar } = gatedCollector({
      maxInFlight: 8,
      deadlineMs: 600_000,
      retryAfterSeconds: 1,
    });
    const anon = uid("anon");
    const body = batch(anon, uid("dup"));
    const keyed = { headers: { "idempotency-key": uid("batch") } };
    const original = postTo(app, "/v1/batch", body, writeKey, keyed);
    await reached(1);
    // A duplicate sent while the original runs (a client that timed out early) waits for it instead of racing it.
    const duplicate = postTo(app, "/v1/batch", body, writeKey, keyed);
    await new Promise((r) => setTimeout(r, 20));
    expect(reachedSoFar()).toBe(1);
    open();
    expect((await original).status).toBe(200);
    expect((await duplicate).status).toBe(200);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: anon })).toHaveLength(1);
  });
});
