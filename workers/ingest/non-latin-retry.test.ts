/**
 * Work queued during a dependency failure is measured as the queue measures it, in UTF-8 bytes: a batch of Japanese
 * text (three bytes a character) is queued and answered 200, like the same batch in ASCII (DESIGN §3).
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AcceptedMessage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { QUEUE } from "../shared/queues";
import { jsonBytes } from "../shared/utf8";
import { fakeQueue, postWith } from "../test-support/collector-app";
import { seedWorkspace } from "../test-support/seed";
import { storedEvents, uid } from "../test-support/worker-requests";
import type { IngestDeps } from "./pipeline";
import { ingestDepsFor } from "./pipeline-deps";
import { handleIngestRetry } from "./retry-consumer";
import type { IngestJob, IngestJobPack } from "./retry-jobs";

const { workspaceId, writeKey } = await seedWorkspace("non-latin-retry");

/** What Cloudflare Queues accept per message: 128 KB, about 100 bytes of it metadata. */
const QUEUE_MESSAGE_BYTES = 128_000 - 100;

const down = async (): Promise<never> => {
  throw new Error("dependency down");
};

/** Six tracks of 9,600 characters each: ~28.8 KB of UTF-8 apiece, under the 32 KB message limit. */
const sixTracks = (text: string, anonymousId: () => string) => ({
  batch: Array.from({ length: 6 }, (_, i) => ({
    type: "track",
    event: `Read ${i}`,
    anonymousId: anonymousId(),
    messageId: uid("m"),
    properties: { text: text.repeat(9_600 / text.length) },
  })),
});

const messagesOf = (packs: IngestJobPack[]): AcceptedMessage[] =>
  packs.flatMap((pack) => pack.jobs).flatMap((job) => (job.kind === "merge" ? [] : job.messages));

/** Every pack fits one queue message, and together they hold exactly `batch`'s messages. */
function expectQueuedWhole(sent: unknown[], batch: Array<{ messageId: string }>) {
  const packs = sent as IngestJobPack[];
  for (const pack of packs) expect(jsonBytes(pack)).toBeLessThanOrEqual(QUEUE_MESSAGE_BYTES);
  expect(messagesOf(packs).map((m) => m.messageId)).toEqual(batch.map((m) => m.messageId));
}

describe("retry jobs of non-Latin text", () => {
  it("are queued within the queue's message size when identity resolution fails, as ASCII ones are", async () => {
    const identityDown = (e: Env): IngestDeps => ({
      ...ingestDepsFor(e),
      identity: { resolve: down, redirect() {}, forgetProfile() {}, forgetIdentifiers() {} },
    });
    for (const text of ["日本語のテキスト", "ascii text"]) {
      const anon = uid("a");
      const body = sixTracks(text, () => anon);
      const queue = fakeQueue();
      const res = await postWith({ ingestDeps: identityDown, retryQueue: () => queue }, "/v1/batch", body, writeKey);
      expect(res.status, text).toBe(200);
      expect(await res.json()).toMatchObject({ accepted: 6 });
      expectQueuedWhole(queue.sent, body.batch);
    }
  });

  it("are sent again by the retry consumer within the queue's message size when part of a pack was stored", async () => {
    // Profile storage fails for the request: six people's deliveries are queued.
    const queue = fakeQueue();
    const profilesDown = (e: Env): IngestDeps => ({
      ...ingestDepsFor(e),
      profile: () => ({ ingest: down, mergeInto: down }),
    });
    const body = sixTracks("日本語のテキスト", () => uid("a"));
    const res = await postWith({ ingestDeps: profilesDown, retryQueue: () => queue }, "/v1/batch", body, writeKey);
    expect(res.status).toBe(200);
    expectQueuedWhole(queue.sent, body.batch);
    const packs = queue.sent as IngestJobPack[];
    expect(packs[0].jobs.length).toBeGreaterThan(1);

    // On retry only the first person's object is back: the rest of that pack is sent again, and the pack acked.
    const [first] = packs[0].jobs as Array<Extract<IngestJob, { kind: "deliver" }>>;
    const real = ingestDepsFor(env);
    const firstBack: IngestDeps = {
      ...real,
      profile: (id) => (id === first.profileId ? real.profile(id) : { ingest: down, mergeInto: down }),
    };
    const again = fakeQueue();
    const batch = createMessageBatch(QUEUE.ingestRetry, [
      { id: "msg-0", timestamp: new Date(), attempts: 1, body: packs[0] },
    ]);
    const ctx = createExecutionContext();
    await handleIngestRetry(batch, { ...env, INGEST_RETRY_QUEUE: again as unknown as Queue }, firstBack);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["msg-0"]);
    expect(await storedEvents(workspaceId, first.identifiers[0])).toMatchObject([{ event: "Read 0" }]);
    expectQueuedWhole(again.sent, messagesOf([packs[0]]).slice(1));
  });
});
