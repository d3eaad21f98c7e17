import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { IngestDeps } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { backoffSeconds, handleIngestRetry } from "../ingest/retry-consumer";
import type { IngestJob } from "../ingest/retry-jobs";
import { QUEUE } from "../shared/queues";
import { fakeQueue, postWith } from "../test-support/collector-app";
import { seedWorkspace } from "../test-support/seed";
import { storedEvents, uid } from "../test-support/worker-requests";

const { workspaceId, writeKey } = await seedWorkspace("durability");
const anon = (value: string) => ({ type: "anonymous_id", value });
const down = async (): Promise<never> => {
  throw new Error("dependency down");
};
/** Real rules and identity graph, but every Durable Object call fails. */
const profilesDown = (e: Env): IngestDeps => ({
  ...ingestDepsFor(e),
  profile: () => ({ ingest: down, mergeInto: down }),
});
/** Identity resolution (D1) fails. */
const identityDown = (e: Env): IngestDeps => {
  const real = ingestDepsFor(e);
  return {
    ...real,
    identity: { resolve: down, redirect: () => {}, forgetProfile: () => {}, forgetIdentifiers: () => {} },
  };
};

function batchOf(queue: string, bodies: unknown[], attempts = 1) {
  return createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `msg-${i}`, timestamp: new Date(), attempts, body })),
  );
}

async function replay(bodies: unknown[], deps?: IngestDeps) {
  const batch = batchOf(QUEUE.ingestRetry, bodies);
  const ctx = createExecutionContext();
  await handleIngestRetry(batch, env, deps);
  return getQueueResult(batch, ctx);
}

describe("200 means durable", () => {
  it("queues accepted messages when their profile's Durable Object fails; the consumer stores them once", async () => {
    const a = uid("anon");
    const queue = fakeQueue();
    const messages = [
      { type: "track", event: "First", anonymousId: a },
      { type: "identify", anonymousId: a, traits: { plan: "pro" } },
    ];
    const res = await postWith(
      { ingestDeps: profilesDown, retryQueue: () => queue },
      "/v1/batch",
      { batch: messages },
      writeKey,
    );
    expect(await res.json()).toEqual({ success: true, accepted: 2, rejected: [] });
    expect(await storedEvents(workspaceId, anon(a))).toEqual([]);
    expect(queue.sent).toHaveLength(1);
    const job = queue.sent[0] as Extract<IngestJob, { kind: "deliver" }>;
    expect(job).toMatchObject({ kind: "deliver", workspaceId, messages: [{ event: "First" }, { type: "identify" }] });
    expect(job.identifiers).toContainEqual(expect.objectContaining(anon(a)));

    const result = await replay(queue.sent);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    const stored = await storedEvents(workspaceId, anon(a));
    expect(stored.map((e) => e.messageId).sort()).toEqual(job.messages.map((m) => m.messageId).sort());

    // Queues deliver at least once: a second replay changes nothing.
    await replay(queue.sent);
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(2);
  });

  it("queues the whole batch when identity resolution fails; the consumer resolves and stores it", async () => {
    const a = uid("anon");
    const queue = fakeQueue();
    const res = await postWith(
      { ingestDeps: identityDown, retryQueue: () => queue },
      "/v1/track",
      { event: "Later", anonymousId: a },
      writeKey,
    );
    expect(res.status).toBe(200);
    expect(queue.sent).toEqual([expect.objectContaining({ kind: "resolve", workspaceId })]);
    const result = await replay(queue.sent);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(await storedEvents(workspaceId, anon(a))).toMatchObject([{ event: "Later" }]);
  });

  it("answers 503 (never 200) when the retry queue refuses the messages too", async () => {
    const a = uid("anon");
    const res = await postWith(
      { ingestDeps: profilesDown, retryQueue: () => fakeQueue(true) },
      "/v1/track",
      { event: "Lost?", anonymousId: a },
      writeKey,
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toMatchObject({
      error: { code: "internal_error", message: expect.stringMatching(/retry/) },
    });
  });

  it("splits large queued work under the queue's message size", async () => {
    const a = uid("anon");
    const queue = fakeQueue();
    const big = { text: "z".repeat(30_000) };
    const batch = Array.from({ length: 12 }, (_, i) => ({
      type: "track",
      event: `Big ${i}`,
      anonymousId: a,
      properties: big,
    }));
    const res = await postWith({ ingestDeps: profilesDown, retryQueue: () => queue }, "/v1/batch", { batch }, writeKey);
    expect(res.status).toBe(200);
    expect(queue.sent.length).toBeGreaterThan(3);
    for (const body of queue.sent) expect(JSON.stringify(body).length).toBeLessThan(128_000);
    const count = queue.sent.reduce((n: number, b) => n + (b as { messages: unknown[] }).messages.length, 0);
    expect(count).toBe(12);
  });
});

describe("ingest retry consumer", () => {
  it("acks jobs that complete and retries only the failing one, with backoff", async () => {
    const a = uid("anon");
    const real = ingestDepsFor(env);
    const deps: IngestDeps = {
      ...real,
      profile: (id) => (id === "prf_unreachable" ? { ingest: down, mergeInto: down } : real.profile(id)),
    };
    const message = {
      type: "track",
      event: "Ok",
      anonymousId: a,
      messageId: uid("m"),
      timestamp: new Date().toISOString(),
      receivedAt: new Date().toISOString(),
      context: {},
    };
    const good: IngestJob = { kind: "resolve", workspaceId, messages: [message as never] };
    const bad: IngestJob = { kind: "merge", workspaceId, from: "prf_unreachable", into: "prf_other" };
    const result = await replay([good, bad, { not: "a job" }], deps);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    // (the pool's result does not report delaySeconds; backoffSeconds is tested below)
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["msg-1", "msg-2"]);
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(1);
  });

  it("backs off exponentially up to an hour", () => {
    expect([1, 2, 3, 10, 20].map(backoffSeconds)).toEqual([10, 20, 40, 3600, 3600]);
  });
});
