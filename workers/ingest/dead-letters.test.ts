import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { IngestDeadLetterPage, IngestDeadLettersReplayed } from "@tessera/protocol";
import { describe, expect, it, vi } from "vitest";
import { DEFAULT_IDENTITY_RULES } from "../identity/rules";
import { fakeQueue, postWith } from "../test-support/collector-app";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";
import { storedEvents, uid } from "../test-support/worker-requests";
import { eraseFromIngestDeadLetters, replayDeadLetters, UNREADABLE_JOB } from "./dead-letters";
import type { IngestDeps } from "./pipeline";
import { ingestDepsFor } from "./pipeline-deps";
import { handleIngestDeadLetter, handleIngestRetry } from "./retry-consumer";
import type { IngestJob, IngestJobPack } from "./retry-jobs";

const ADMIN = bearer("admin_test");
const anon = (value: string) => ({ type: "anonymous_id", value });

/** The production pipeline, except that every profile write fails while `fault.on`. */
function faultyDeps(fault: { on: boolean }): IngestDeps {
  const real = ingestDepsFor(env);
  const down = async (): Promise<never> => {
    throw new Error("profile storage unavailable");
  };
  return { ...real, profile: (id) => (fault.on ? { ingest: down, mergeInto: down } : real.profile(id)) };
}

/** Delivers `bodies` to a consumer the way the queue does (message ids `id-0`, `id-1`, …) and returns the outcome. */
async function deliver(
  consumer: (batch: MessageBatch<unknown>) => Promise<void>,
  queue: string,
  bodies: unknown[],
  attempts: number,
  idPrefix = uid("qm"),
) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `${idPrefix}-${i}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await consumer(batch);
  return getQueueResult(batch, ctx);
}

async function listDeadLetters(authorization: string, query = ""): Promise<IngestDeadLetterPage> {
  const res = await api(`/v1/dead-letters${query}`, authorization);
  expect(res.status).toBe(200);
  return res.json<IngestDeadLetterPage>();
}

/** `body` undefined: the request has none. */
function replay(authorization: string, body: unknown): Promise<Response> {
  if (body === undefined) return api("/v1/dead-letters/replay", authorization, { method: "POST" });
  return api("/v1/dead-letters/replay", authorization, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Accepts two events while profile storage is down, and returns the retry job the collector queued. */
async function acceptWhileDown(writeKey: string, deps: IngestDeps, a: string): Promise<IngestJob> {
  const queue = fakeQueue();
  const res = await postWith(
    { ingestDeps: () => deps, retryQueue: () => queue },
    "/v1/batch",
    {
      batch: [
        { type: "track", event: "Order Completed", anonymousId: a, properties: { total: 12 } },
        { type: "identify", anonymousId: a, traits: { plan: "pro" } },
      ],
    },
    writeKey,
  );
  expect(await res.json()).toEqual({ success: true, accepted: 2, rejected: [] });
  expect(queue.sent).toHaveLength(1);
  const [pack] = queue.sent as IngestJobPack[];
  expect(pack.jobs).toHaveLength(1);
  return pack.jobs[0];
}

describe("ingest retry consumer", () => {
  it("retries every job that fails again and logs the batch as one line with the first reason", async () => {
    const { writeKey } = await seedWorkspace("retry-log");
    const deps = faultyDeps({ on: true });
    const jobs: IngestJob[] = [];
    for (const a of [uid("anon"), uid("anon"), uid("anon")]) jobs.push(await acceptWhileDown(writeKey, deps, a));
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const retried = await deliver((b) => handleIngestRetry(b, env, deps), "tessera-ingest-retry", jobs, 2);
      expect(retried.explicitAcks).toEqual([]);
      expect(retried.retryMessages).toHaveLength(3);
      expect(logged.mock.calls).toEqual([
        [
          expect.stringMatching(
            /^ingest retry: 3 of 3 jobs failed again; retrying with backoff \(first: storing into profile prf_\w+: profile storage unavailable\)$/,
          ),
        ],
      ]);
    } finally {
      logged.mockRestore();
    }
  });
});

describe("ingest dead letters", () => {
  it("end a job that fails until a fault is lifted as a dead letter, list it, replay it, and store it once", async () => {
    const { workspaceId, writeKey, secretKey } = await seedWorkspace("dead-letters");
    const other = await seedWorkspace("dead-letters-other");
    const fault = { on: true };
    const deps = faultyDeps(fault);
    const a = uid("anon");
    const job = await acceptWhileDown(writeKey, deps, a);

    // The retry queue's last attempt fails too: retried (the queue then moves it to the DLQ), not acked.
    const retried = await deliver((b) => handleIngestRetry(b, env, deps), "tessera-ingest-retry", [job], 11);
    expect(retried.explicitAcks).toEqual([]);
    expect(retried.retryMessages).toHaveLength(1);

    // The DLQ consumer tries once more, records the row with the reason, and only then acks; a redelivery of the
    // same queue message records nothing twice.
    const queueId = uid("dlq");
    for (let delivery = 1; delivery <= 2; delivery++) {
      const parked = await deliver(
        (b) => handleIngestDeadLetter(b, env, deps),
        "tessera-ingest-dlq",
        [job],
        1,
        queueId,
      );
      expect(parked.explicitAcks).toEqual([`${queueId}-0`]);
    }
    expect(await storedEvents(workspaceId, anon(a))).toEqual([]);

    const listed = await listDeadLetters(bearer(secretKey));
    expect(listed.data).toHaveLength(1);
    const [letter] = listed.data;
    expect(letter).toMatchObject({
      workspace_id: workspaceId,
      replayed_at: null,
      attempts: 1,
      error: expect.stringMatching(/^storing into profile prf_\w+: profile storage unavailable$/),
    });
    expect(letter.message_ids.sort()).toEqual(
      (job as Extract<IngestJob, { kind: "deliver" }>).messages.map((m) => m.messageId).sort(),
    );
    // Another workspace's secret key sees none of it; the admin token sees every workspace's.
    expect((await listDeadLetters(bearer(other.secretKey))).data).toEqual([]);
    expect((await listDeadLetters(ADMIN)).data.map((d) => d.id)).toContain(letter.id);
    expect((await replay(bearer(other.secretKey), {})).status).toBe(200);
    expect(await storedEvents(workspaceId, anon(a))).toEqual([]);

    fault.on = false;
    const replayed = await replay(bearer(secretKey), {});
    expect(replayed.status).toBe(200);
    expect(await replayed.json<IngestDeadLettersReplayed>()).toEqual({
      replayed: [letter.id],
      failed: [],
      skipped: [],
      remaining: 0,
    });
    const stored = await storedEvents(workspaceId, anon(a));
    expect(stored.map((e) => e.type).sort()).toEqual(["identify", "track"]);

    // A second replay of the same dead letter does nothing; its events stay stored once.
    const again = await replay(bearer(secretKey), { ids: [letter.id] });
    expect(await again.json<IngestDeadLettersReplayed>()).toEqual({
      replayed: [],
      failed: [],
      skipped: [letter.id],
      remaining: 0,
    });
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(2);
    const after = await listDeadLetters(bearer(secretKey), "?status=replayed");
    expect(after.data).toMatchObject([{ id: letter.id, replayed_at: expect.any(String) }]);
    expect((await listDeadLetters(bearer(secretKey))).data).toEqual([]);
  });

  it("replays by id, and stores each event once when the same work was dead-lettered twice", async () => {
    const { workspaceId, writeKey, secretKey } = await seedWorkspace("dead-letters-again");
    const fault = { on: true };
    const deps = faultyDeps(fault);
    const a = uid("anon");
    const job = await acceptWhileDown(writeKey, deps, a);
    await deliver((b) => handleIngestDeadLetter(b, env, deps), "tessera-ingest-dlq", [job], 3);
    // The same work dead-lettered twice (two queue messages): replaying both still stores each event once.
    await deliver((b) => handleIngestDeadLetter(b, env, deps), "tessera-ingest-dlq", [job], 1);
    const ids = (await listDeadLetters(bearer(secretKey))).data.map((d) => d.id).sort((x, y) => x - y);
    expect(ids).toHaveLength(2);

    fault.on = false;
    const first = await replay(bearer(secretKey), { ids: [ids[0]] });
    expect(await first.json<IngestDeadLettersReplayed>()).toEqual({
      replayed: [ids[0]],
      failed: [],
      skipped: [],
      remaining: 1,
    });
    // No body at all is `{}`: the oldest pending ones (as the destinations' replay, which takes none).
    const rest = await replay(bearer(secretKey), undefined);
    expect(rest.status).toBe(200);
    expect(await rest.json<IngestDeadLettersReplayed>()).toMatchObject({ replayed: [ids[1]], remaining: 0 });
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(2);
  });

  it("replays the 100 ids one call may name (D1 binds at most 100 parameters)", async () => {
    const { workspaceId, writeKey, secretKey } = await seedWorkspace("dead-letters-hundred");
    const fault = { on: true };
    const deps = faultyDeps(fault);
    const a = uid("anon");
    const job = await acceptWhileDown(writeKey, deps, a);
    await deliver((b) => handleIngestDeadLetter(b, env, deps), "tessera-ingest-dlq", [job], 3);
    const [letter] = (await listDeadLetters(bearer(secretKey))).data;
    fault.on = false;
    const unknown = Array.from({ length: 99 }, (_, i) => 1_000_000_000 + i);
    const ids = [letter.id, ...unknown];
    for (const [authorization, body] of [
      [bearer(secretKey), { ids }],
      [ADMIN, { ids, workspace_id: workspaceId }],
    ] as const) {
      const res = await replay(authorization, body);
      expect(res.status).toBe(200);
    }
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(2);
  });

  it("keeps a dead letter pending, with the new reason, when its replay fails again", async () => {
    const { workspaceId, writeKey, secretKey } = await seedWorkspace("dead-letters-failing");
    const fault = { on: true };
    const deps = faultyDeps(fault);
    const a = uid("anon");
    const job = await acceptWhileDown(writeKey, deps, a);
    await deliver((b) => handleIngestDeadLetter(b, env, deps), "tessera-ingest-dlq", [job], 1);
    const [letter] = (await listDeadLetters(bearer(secretKey))).data;

    // The route replays with the production pipeline; the same function with the faulty one fails again.
    const outcome = await replayDeadLetters(env.DB, deps, { workspaceId }, { limit: 100 });
    expect(outcome).toEqual({
      replayed: [],
      failed: [{ id: letter.id, error: expect.stringMatching(/profile storage unavailable$/) }],
      skipped: [],
      remaining: 1,
    });
    const [after] = (await listDeadLetters(bearer(secretKey))).data;
    expect(after).toMatchObject({ id: letter.id, attempts: 2, replayed_at: null, message_ids: letter.message_ids });
    expect(await storedEvents(workspaceId, anon(a))).toEqual([]);

    fault.on = false;
    const res = await replay(bearer(secretKey), { ids: [letter.id] });
    expect((await res.json<IngestDeadLettersReplayed>()).replayed).toEqual([letter.id]);
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(2);
  });

  it("records a pack's jobs that fail once more as one dead letter, and replays them all", async () => {
    const { workspaceId, writeKey, secretKey } = await seedWorkspace("dead-letters-pack");
    const fault = { on: true };
    const deps = faultyDeps(fault);
    const [a, b] = [uid("anon"), uid("anon")];
    const jobs = [await acceptWhileDown(writeKey, deps, a), await acceptWhileDown(writeKey, deps, b)];
    const pack: IngestJobPack = { workspaceId, jobs, earlierAttempts: 11 };
    const parked = await deliver((batch) => handleIngestDeadLetter(batch, env, deps), "tessera-ingest-dlq", [pack], 1);
    expect(parked.explicitAcks).toHaveLength(1);
    const listed = (await listDeadLetters(bearer(secretKey))).data;
    expect(listed).toHaveLength(1);
    const messageIds = jobs.flatMap((job) => (job.kind === "merge" ? [] : job.messages.map((m) => m.messageId)));
    expect(listed[0].message_ids.sort()).toEqual(messageIds.sort());

    fault.on = false;
    const res = await replay(bearer(secretKey), {});
    expect((await res.json<IngestDeadLettersReplayed>()).replayed).toEqual([listed[0].id]);
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(2);
    expect(await storedEvents(workspaceId, anon(b))).toHaveLength(2);
  });

  it("leaves out the work of a person erased after the work was queued, keeping everyone else's", async () => {
    const { workspaceId, writeKey, secretKey } = await seedWorkspace("dead-letters-erased");
    const deps = faultyDeps({ on: true });
    const [jane, max] = [uid("anon"), uid("anon")];
    const [hers, his] = [await acceptWhileDown(writeKey, deps, jane), await acceptWhileDown(writeKey, deps, max)];
    if (hers.kind !== "deliver" || his.kind !== "deliver") throw new Error("expected deliver jobs");
    // Her messages also wait to be resolved once more (identity resolution failed for them as well).
    const resolve: IngestJob = { kind: "resolve", workspaceId, messages: [...hers.messages, ...his.messages] };

    // She is erased while her work waits in the retry queue through the outage.
    const erased = await api(`/v1/profiles/${hers.profileId}`, bearer(secretKey), { method: "DELETE" });
    expect(erased.status).toBe(202);

    const down: IngestDeps = {
      ...deps,
      identity: {
        ...deps.identity,
        resolve: async () => {
          throw new Error("identity unavailable");
        },
      },
    };
    const mixed: IngestJobPack = { workspaceId, jobs: [hers, his, resolve], earlierAttempts: 11 };
    const onlyHers: IngestJobPack = { workspaceId, jobs: [hers, { ...resolve, messages: hers.messages }] };
    const parked = await deliver(
      (b) => handleIngestDeadLetter(b, env, down),
      "tessera-ingest-dlq",
      [mixed, onlyHers],
      1,
    );
    expect(parked.explicitAcks).toHaveLength(2);

    const listed = (await listDeadLetters(bearer(secretKey))).data;
    expect(listed).toHaveLength(1);
    expect(listed[0].message_ids.sort()).toEqual([...his.messages, ...his.messages].map((m) => m.messageId).sort());
    expect(JSON.stringify(listed[0].jobs)).not.toContain(jane);
    expect(JSON.stringify(listed[0].jobs)).toContain(max);
  });

  it("records a body no version can read for the admin token, and acks only once D1 took the row", async () => {
    const body = { not: "a job", n: uid("x") };
    const failingDb = {
      prepare() {
        throw new Error("D1 unavailable");
      },
    } as unknown as D1Database;
    const refused = await deliver(
      (b) => handleIngestDeadLetter(b, { ...env, DB: failingDb }),
      "tessera-ingest-dlq",
      [body],
      1,
    );
    expect(refused.explicitAcks).toEqual([]);
    expect(refused.retryMessages).toHaveLength(1);

    const taken = await deliver((b) => handleIngestDeadLetter(b, env), "tessera-ingest-dlq", [body], 2);
    expect(taken.explicitAcks).toHaveLength(1);
    const all = await listDeadLetters(ADMIN, "?limit=100");
    expect(all.data.find((d) => JSON.stringify(d.jobs).includes(body.n))).toMatchObject({
      workspace_id: null,
      error: UNREADABLE_JOB,
      message_ids: [],
    });
  });

  it("pages newest first with a cursor, and says what is wrong with a bad request", async () => {
    const { workspaceId, secretKey } = await seedWorkspace("dead-letters-pages");
    const other = await seedWorkspace("dead-letters-pages-other");
    const deps = faultyDeps({ on: true });
    const jobs = [1, 2, 3].map((n): IngestJob => ({ kind: "merge", workspaceId, from: `prf_${n}`, into: "prf_0" }));
    await deliver((b) => handleIngestDeadLetter(b, env, deps), "tessera-ingest-dlq", jobs, 1);
    const first = await listDeadLetters(bearer(secretKey), "?limit=2");
    expect(first.data).toHaveLength(2);
    expect(first.cursor.has_more).toBe(true);
    const second = await listDeadLetters(bearer(secretKey), `?limit=2&cursor=${first.cursor.next}`);
    expect(second.data).toHaveLength(1);
    expect(second.cursor).toEqual({ has_more: false, next: null });
    const ids = [...first.data, ...second.data].map((d) => d.id);
    expect(ids).toEqual([...ids].sort((x, y) => y - x));

    const cases: Array<[Response, RegExp]> = [
      [await api("/v1/dead-letters?limit=0", bearer(secretKey)), /limit must be a whole number from 1 to 100,/],
      [await api("/v1/dead-letters?status=lost", bearer(secretKey)), /status must be pending, replayed or all/],
      [await api("/v1/dead-letters?cursor=nope", bearer(secretKey)), /cursor is not one this listing issued/],
      // A destination's sync-log cursor ("log:19") is another listing's.
      [await api("/v1/dead-letters?cursor=bG9nOjE5", bearer(secretKey)), /cursor is not one this listing issued/],
      [
        await api(`/v1/dead-letters?workspace_id=${other.workspaceId}`, bearer(secretKey)),
        /workspace_id is for the admin token/,
      ],
      [await replay(bearer(secretKey), { ids: "all" }), /ids must be an array of dead letter ids/],
      [await replay(bearer(secretKey), { ids: [] }), /ids must not be empty/],
      [await replay(bearer(secretKey), { id: [1] }), /unknown field "id"/],
    ];
    for (const [res, message] of cases) {
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: { code: "validation_error", message: expect.stringMatching(message) },
      });
    }
    const unauthenticated = await api("/v1/dead-letters", bearer("sk_nope"));
    expect(unauthenticated.status).toBe(401);
  });
});

/** Two people's work parked as one dead letter (a pack), while profile storage was down. */
async function parkedPack(name: string) {
  const seeded = await seedWorkspace(name);
  const { workspaceId, writeKey, secretKey } = seeded;
  const deps = faultyDeps({ on: true });
  const [jane, max] = [uid("anon"), uid("anon")];
  const [hers, his] = [await acceptWhileDown(writeKey, deps, jane), await acceptWhileDown(writeKey, deps, max)];
  if (hers.kind !== "deliver" || his.kind !== "deliver") throw new Error("expected deliver jobs");
  const pack: IngestJobPack = { workspaceId, jobs: [hers, his], earlierAttempts: 11 };
  await deliver((b) => handleIngestDeadLetter(b, env, deps), "tessera-ingest-dlq", [pack], 1);
  const [letter] = (await listDeadLetters(bearer(secretKey))).data;
  return { ...seeded, deps, jane, max, hers, his, letter };
}

/** `deps`, except that the first write to `profileId` runs `meanwhile` and then fails. */
function failingAfter(deps: IngestDeps, profileId: string, meanwhile: () => Promise<void>): IngestDeps {
  let ran = false;
  return {
    ...deps,
    profile: (id) => {
      const stub = deps.profile(id);
      if (id !== profileId) return stub;
      return {
        ...stub,
        ingest: async (input) => {
          if (ran) return stub.ingest(input);
          ran = true;
          await meanwhile();
          throw new Error("profile storage unavailable");
        },
      };
    },
  };
}

describe("ingest dead letters replayed while a GDPR erase runs", () => {
  it("does not write back the work of a person erased during the replay", async () => {
    const { workspaceId, secretKey, deps, jane, max, hers, his, letter } = await parkedPack("replay-erase");
    expect(letter.message_ids.sort()).toEqual([...hers.messages, ...his.messages].map((m) => m.messageId).sort());

    // She is erased while the replay runs her job: the erase takes her job out of the row the replay has read.
    const erasing = failingAfter(deps, hers.profileId, async () => {
      const res = await api(`/v1/profiles/${hers.profileId}`, bearer(secretKey), { method: "DELETE" });
      expect(res.status).toBe(202);
      const [during] = (await listDeadLetters(bearer(secretKey))).data;
      expect(JSON.stringify(during.jobs)).not.toContain(jane);
    });
    const outcome = await replayDeadLetters(env.DB, erasing, { workspaceId }, { ids: [letter.id], limit: 100 });
    expect(outcome.failed).toEqual([{ id: letter.id, error: expect.stringMatching(/profile storage unavailable$/) }]);

    const [after] = (await listDeadLetters(bearer(secretKey))).data;
    expect(after).toMatchObject({ id: letter.id, attempts: 2 });
    expect(after.message_ids.sort()).toEqual(his.messages.map((m) => m.messageId).sort());
    expect(JSON.stringify(after.jobs)).not.toContain(jane);
    expect(JSON.stringify(after.jobs)).toContain(max);
  });

  it("marks the dead letter replayed when all that failed was the erased person's", async () => {
    const { workspaceId, secretKey, jane, max, hers, letter } = await parkedPack("replay-erase-all");
    // Storage is back for everyone; her job fails once, while she is erased.
    const erasing = failingAfter(ingestDepsFor(env), hers.profileId, async () => {
      expect((await api(`/v1/profiles/${hers.profileId}`, bearer(secretKey), { method: "DELETE" })).status).toBe(202);
    });
    const outcome = await replayDeadLetters(env.DB, erasing, { workspaceId }, { limit: 100 });
    expect(outcome).toEqual({ replayed: [letter.id], failed: [], skipped: [], remaining: 0 });
    const all = await listDeadLetters(bearer(secretKey), "?status=all");
    expect(JSON.stringify(all.data.map((d) => d.jobs))).not.toContain(jane);
    expect(await storedEvents(workspaceId, anon(max))).toHaveLength(2);
  });

  it("keeps only what the row still holds when an erase rewrote it between the replay's check and its write", async () => {
    const { workspaceId, secretKey, deps, jane, max, hers, his, letter } = await parkedPack("replay-erase-rewrite");
    // The erase's rewrite of the row, landing after the replay looked for suppressions (none yet) and before it
    // writes: nothing but the row tells the replay that her work went.
    const erasing = failingAfter(deps, hers.profileId, async () => {
      const erased = { profileIds: [hers.profileId], identifiers: hers.identifiers };
      expect(await eraseFromIngestDeadLetters(env.DB, workspaceId, erased, DEFAULT_IDENTITY_RULES, 0)).toBeNull();
    });
    await replayDeadLetters(env.DB, erasing, { workspaceId }, { ids: [letter.id], limit: 100 });

    const [after] = (await listDeadLetters(bearer(secretKey))).data;
    expect(after.message_ids.sort()).toEqual(his.messages.map((m) => m.messageId).sort());
    expect(JSON.stringify(after.jobs)).not.toContain(jane);
    expect(JSON.stringify(after.jobs)).toContain(max);
  });
});

describe("replaying without ids", () => {
  it("reaches newer dead letters when the oldest keep failing", async () => {
    const { workspaceId, writeKey, secretKey } = await seedWorkspace("replay-rotation");
    const fault = { on: true };
    const deps = faultyDeps(fault);
    const job = await acceptWhileDown(writeKey, deps, uid("anon"));
    const parkOne = (body: unknown) =>
      deliver((b) => handleIngestDeadLetter(b, env, deps), "tessera-ingest-dlq", [body], 1);
    // Two bodies no version can read (they never complete), then work that can.
    await parkOne({ workspaceId, not: "a job", n: 1 });
    await parkOne({ workspaceId, not: "a job", n: 2 });
    await parkOne(job);
    const ids = (await listDeadLetters(bearer(secretKey))).data.map((d) => d.id).sort((x, y) => x - y);
    expect(ids).toHaveLength(3);
    fault.on = false;

    // Two a call: the first takes the two oldest, which fail; the next one gets to the newer one.
    const first = await replayDeadLetters(env.DB, deps, { workspaceId }, { limit: 2 });
    expect(first).toMatchObject({ replayed: [], failed: [{ id: ids[0] }, { id: ids[1] }], remaining: 3 });
    const second = await replayDeadLetters(env.DB, deps, { workspaceId }, { limit: 2 });
    expect(second.replayed).toEqual([ids[2]]);
    expect(second.remaining).toBe(2);
  });

  it("counts the attempt of a dead letter whose check for erased people failed, keeping its work", async () => {
    const { workspaceId, writeKey, secretKey } = await seedWorkspace("replay-unchecked");
    const fault = { on: true };
    const deps = faultyDeps(fault);
    await deliver(
      (b) => handleIngestDeadLetter(b, env, deps),
      "tessera-ingest-dlq",
      [{ workspaceId, jobs: [await acceptWhileDown(writeKey, deps, uid("anon"))] }],
      1,
    );
    const [before] = (await listDeadLetters(bearer(secretKey))).data;
    const noRules = {
      ...deps,
      loadRules: async (): Promise<never> => {
        throw new Error("D1 unavailable");
      },
    };
    const outcome = await replayDeadLetters(env.DB, noRules, { workspaceId }, { limit: 100 });
    expect(outcome.failed).toEqual([{ id: before.id, error: expect.stringMatching(/erased people: D1 unavailable$/) }]);
    const [after] = (await listDeadLetters(bearer(secretKey))).data;
    // Counted, so a replay without ids takes the rows tried fewer times first; its work kept whole.
    expect(after).toMatchObject({ id: before.id, attempts: before.attempts + 1, message_ids: before.message_ids });
    expect(after.jobs).toEqual(before.jobs);
  });
});
