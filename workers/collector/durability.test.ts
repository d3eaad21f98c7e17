import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { IngestDeps } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { backoffSeconds, handleIngestRetry } from "../ingest/retry-consumer";
import type { IngestJob, IngestJobPack } from "../ingest/retry-jobs";
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

/** Delivers `bodies` to the retry consumer; what it sends to the retry queue again goes to `queue`. */
async function replay(
  bodies: unknown[],
  deps?: IngestDeps,
  { attempts = 1, queue = fakeQueue() }: { attempts?: number; queue?: ReturnType<typeof fakeQueue> } = {},
) {
  const batch = batchOf(QUEUE.ingestRetry, bodies, attempts);
  const ctx = createExecutionContext();
  await handleIngestRetry(batch, { ...env, INGEST_RETRY_QUEUE: queue as unknown as Queue }, deps);
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
    const [pack] = queue.sent as IngestJobPack[];
    expect(pack).toMatchObject({ workspaceId, jobs: [expect.anything()] });
    const job = pack.jobs[0] as Extract<IngestJob, { kind: "deliver" }>;
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
    expect(queue.sent).toEqual([{ workspaceId, jobs: [expect.objectContaining({ kind: "resolve", workspaceId })] }]);
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

  it("packs a request's failed profiles into one queue message, not a message per profile", async () => {
    // A message per profile made an import meeting the local SQLite ceiling queue ~50,000 messages, past the local
    // broker's 10,000 timers, and stalled the local retry queue for good (bench/README, import run E).
    const queue = fakeQueue();
    const batch = Array.from({ length: 100 }, () => ({ type: "track", event: "Bought", anonymousId: uid("anon") }));
    const res = await postWith({ ingestDeps: profilesDown, retryQueue: () => queue }, "/v1/batch", { batch }, writeKey);
    expect(res.status).toBe(200);
    expect(queue.sent).toHaveLength(1);
    const [pack] = queue.sent as IngestJobPack[];
    expect(pack.workspaceId).toBe(workspaceId);
    expect(pack.jobs).toHaveLength(100);
    expect(new Set(pack.jobs.map((job) => (job as { profileId: string }).profileId)).size).toBe(100);
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
    const jobs = (queue.sent as IngestJobPack[]).flatMap((pack) => pack.jobs);
    const count = jobs.reduce((n, job) => n + (job.kind === "merge" ? 0 : job.messages.length), 0);
    expect(count).toBe(12);
  });
});

describe("back-pressure when the runtime is out of room", () => {
  /** What the local runtime throws once its live objects fill the SQLite heap (Cloudflare's: `overloaded`). */
  const outOfRoom = () => Object.assign(new Error("out of memory: SQLITE_NOMEM"), { durableObjectReset: true });
  /** Real deps, except that `full(input)` makes a profile's object throw `outOfRoom` for that ingest. */
  const withFullObjects =
    (full: (messages: readonly { anonymousId?: string | null }[]) => boolean) =>
    (e: Env): IngestDeps => {
      const real = ingestDepsFor(e);
      return {
        ...real,
        profile: (id) => ({
          ingest: async (input) => {
            if (full(input.messages)) throw outOfRoom();
            return real.profile(id).ingest(input);
          },
          mergeInto: async () => {
            throw outOfRoom();
          },
        }),
      };
    };

  it("answers 429 with Retry-After and queues nothing; the resend stores every message once", async () => {
    const [a, b, c] = [uid("anon"), uid("anon"), uid("anon")];
    const queue = fakeQueue();
    let roomFor = "nobody";
    const deps = withFullObjects((messages) => messages.some((m) => m.anonymousId === b) && roomFor !== b);
    const batch = [a, b, c].map((anonymousId) => ({
      type: "track",
      event: "Bought",
      anonymousId,
      messageId: `${anonymousId}-1`,
    }));
    const first = await postWith({ ingestDeps: deps, retryQueue: () => queue }, "/v1/batch", { batch }, writeKey);
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("2");
    expect(await first.json()).toMatchObject({
      error: { code: "rate_limit_error", message: expect.stringMatching(/out of room.*retry it/) },
    });
    expect(queue.sent).toEqual([]);
    expect(await storedEvents(workspaceId, anon(b))).toEqual([]);
    // The others were stored: the resend finds them there (its answer says so: `duplicates`) and stores each once.
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(1);

    roomFor = b;
    const again = await postWith({ ingestDeps: deps, retryQueue: () => queue }, "/v1/batch", { batch }, writeKey);
    expect(await again.json()).toEqual({ success: true, accepted: 3, duplicates: 2, rejected: [] });
    for (const visitor of [a, b, c])
      expect((await storedEvents(workspaceId, anon(visitor))).map((m) => m.messageId)).toEqual([`${visitor}-1`]);
    expect(queue.sent).toEqual([]);
  });

  it("still queues a merge's fold, which a resend could not redo, before answering 429", async () => {
    const [a, u] = [uid("anon"), uid("user")];
    const real = { ingestDeps: ingestDepsFor, retryQueue: () => fakeQueue() };
    expect((await postWith(real, "/v1/track", { event: "Viewed", anonymousId: a }, writeKey)).status).toBe(200);
    expect((await postWith(real, "/v1/identify", { userId: u, traits: { plan: "pro" } }, writeKey)).status).toBe(200);

    const queue = fakeQueue();
    const login = { userId: u, anonymousId: a, messageId: uid("login") };
    const full = withFullObjects(() => true);
    const refused = await postWith({ ingestDeps: full, retryQueue: () => queue }, "/v1/identify", login, writeKey);
    expect(refused.status).toBe(429);
    // The graph joined the two profiles: a resend sees one, so only the queue can still fold the other into it.
    expect(queue.sent).toEqual([{ workspaceId, jobs: [expect.objectContaining({ kind: "merge", workspaceId })] }]);

    expect((await postWith(real, "/v1/identify", login, writeKey)).status).toBe(200);
    expect((await replay(queue.sent)).explicitAcks).toEqual(["msg-0"]);
    const events = await storedEvents(workspaceId, { type: "user_id", value: u });
    expect(events.map((m) => m.messageId)).toContain(login.messageId);
    expect(events.map((m) => (m.type === "track" ? m.event : m.type))).toEqual(
      expect.arrayContaining(["Viewed", "identify"]),
    );
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

  describe("with packed jobs", () => {
    const reachable = (): IngestDeps => {
      const real = ingestDepsFor(env);
      return {
        ...real,
        profile: (id) => (id === "prf_unreachable" ? { ingest: down, mergeInto: down } : real.profile(id)),
      };
    };
    const resolveJob = (anonymousId: string): IngestJob => ({
      kind: "resolve",
      workspaceId,
      messages: [
        {
          type: "track",
          event: "Packed",
          anonymousId,
          messageId: uid("m"),
          timestamp: new Date().toISOString(),
          receivedAt: new Date().toISOString(),
          context: {},
        } as never,
      ],
    });
    const unreachable: IngestJob = { kind: "merge", workspaceId, from: "prf_unreachable", into: "prf_other" };

    it("acks a pack that partly completed and sends only what is left again, its backoff carried on", async () => {
      const [a, b] = [uid("anon"), uid("anon")];
      const queue = fakeQueue();
      const pack: IngestJobPack = {
        workspaceId,
        jobs: [resolveJob(a), unreachable, resolveJob(b)],
        earlierAttempts: 2,
      };
      const result = await replay([pack], reachable(), { attempts: 3, queue });
      expect(result.explicitAcks).toEqual(["msg-0"]);
      expect(result.retryMessages).toEqual([]);
      expect(queue.sent).toEqual([{ workspaceId, jobs: [unreachable], earlierAttempts: 5 }]);
      expect(queue.delays).toEqual([backoffSeconds(5)]);
      expect(await storedEvents(workspaceId, anon(a))).toHaveLength(1);
      expect(await storedEvents(workspaceId, anon(b))).toHaveLength(1);
    });

    it("retries a pack none of whose jobs completed as it is, so the queue counts its attempts", async () => {
      const queue = fakeQueue();
      const result = await replay([{ workspaceId, jobs: [unreachable, unreachable] }], reachable(), { queue });
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["msg-0"]);
      expect(queue.sent).toEqual([]);
    });

    it("retries the whole pack when what is left cannot be sent; its completed jobs store nothing twice", async () => {
      const a = uid("anon");
      const pack: IngestJobPack = { workspaceId, jobs: [resolveJob(a), unreachable] };
      const refused = await replay([pack], reachable(), { queue: fakeQueue(true) });
      expect(refused.explicitAcks).toEqual([]);
      expect(refused.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["msg-0"]);
      const again = await replay([pack], reachable(), { attempts: 2 });
      expect(again.explicitAcks).toEqual(["msg-0"]);
      expect(await storedEvents(workspaceId, anon(a))).toHaveLength(1);
    });

    it("runs at most 16 jobs at once across the packs of a batch", async () => {
      let inFlight = 0;
      let most = 0;
      const folding: IngestDeps = {
        ...ingestDepsFor(env),
        profile: () => ({
          ingest: down,
          mergeInto: async () => {
            most = Math.max(most, ++inFlight);
            await new Promise((resolve) => setTimeout(resolve, 2));
            inFlight--;
          },
        }),
      };
      const pack = (n: number): IngestJobPack => ({
        workspaceId,
        jobs: Array.from({ length: n }, (_, i) => ({ kind: "merge", workspaceId, from: `prf_${i}`, into: "prf_x" })),
      });
      const result = await replay([pack(40), pack(40), pack(40)], folding);
      expect(result.explicitAcks).toEqual(["msg-0", "msg-1", "msg-2"]);
      expect(most).toBe(16);
    });
  });

  it("backs off exponentially up to an hour", () => {
    expect([1, 2, 3, 10, 20].map(backoffSeconds)).toEqual([10, 20, 40, 3600, 3600]);
  });
});
