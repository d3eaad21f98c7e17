/**
 * An erase of a person with many long identifiers (DESIGN §4 allows 1,000 of up to 512 characters): together they
 * are more than one sync queue message holds (128 KB), and the job still finishes, every destination told to delete
 * every identifier.
 */
import { env } from "cloudflare:workers";
import type { AcceptedMessage, Deletion, ProfileErased } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { findDeletion } from "../../d1/queries/deletions";
import { ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { eventually, insertDestination, webhookReceiver } from "../test-support/destinations";
import { identify } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";
import { runDeletion } from "./deletion-job";

const ANONYMOUS_IDS = 300;

/** Sam, one user seen under 300 anonymous ids of 500 characters each: about 160 KB of identifiers. */
async function sam() {
  const ws = await seedWorkspace();
  const call = (path: string, method = "GET", body?: unknown) =>
    api(path, bearer(ws.secretKey), {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
  expect((await call("/v1/identity-rules", "PUT", { limits: { user_id: 1, anonymous_id: 1000 } })).status).toBe(200);
  const anonymousIds = Array.from({ length: ANONYMOUS_IDS }, (_, i) => `anon-${i}-`.padEnd(500, "x"));
  const visit = (anonymousId: string): AcceptedMessage =>
    identify({}, "2025-01-01T00:00:00.000Z", { userId: "u-sam", anonymousId });
  const ingest = async (messages: AcceptedMessage[]) => {
    const report = await ingestMessages(
      ingestDepsFor(env),
      ws.workspaceId,
      messages.map((message, index) => ({ index, message })),
    );
    expect(report.failed).toEqual([]);
  };
  // The first visit makes the profile; the others attach their anonymous id to it.
  await ingest([visit(anonymousIds[0])]);
  await ingest(anonymousIds.slice(1).map(visit));
  const profile = await call("/v1/profiles/user_id:u-sam");
  expect((await profile.json<{ identifiers: unknown[] }>()).identifiers).toHaveLength(ANONYMOUS_IDS + 1);

  const erase = async () => {
    const res = await call("/v1/profiles/user_id:u-sam", "DELETE");
    expect(res.status).toBe(202);
    return res.json<ProfileErased>();
  };
  const deletion = async (id: string) => (await call(`/v1/deletions/${id}`)).json<Deletion>();
  return { ...ws, anonymousIds, erase, deletion };
}

describe("an erase of a person with more identifiers than one queue message holds", () => {
  it("is done once the destination deleted the person by every identifier", async () => {
    const { workspaceId, anonymousIds, erase, deletion } = await sam();
    const hook = await webhookReceiver(200);
    await insertDestination(workspaceId, {
      type: "webhook",
      config: { url: hook.url, secret: "whsec_test_0123456789abcdef" },
      audiences: [],
    });
    const { deletion_id } = await erase();
    expect((await deletion(deletion_id)).last_error).toBeNull();

    // Each run of the job (the cron's) reads the destination's answer once its object has deleted the person.
    const done = await eventually(async () => {
      await runDeletion(env, (await findDeletion(env.DB, workspaceId, deletion_id)) as never);
      const job = await deletion(deletion_id);
      expect(job.status).toBe("done");
      return job;
    });
    expect(done.last_error).toBeNull();
    const deletes = (await hook.received()).filter((r) => r.event.type === "profile.deleted");
    expect(deletes.length).toBeGreaterThan(0);
    const told = new Set(deletes.flatMap((r) => r.event.profile.identifiers.map((i) => `${i.type}:${i.value}`)));
    expect(told).toEqual(new Set(["user_id:u-sam", ...anonymousIds.map((a) => `anonymous_id:${a}`)]));
    // Nothing of the person is kept once the destinations are done.
    const row = await findDeletion(env.DB, workspaceId, deletion_id);
    expect(row?.identifiers).toBeNull();
  });

  it("is done at once in a workspace with no destination", async () => {
    const { erase, deletion } = await sam();
    const { deletion_id } = await erase();
    const job = await deletion(deletion_id);
    expect(job).toMatchObject({ status: "done", last_error: null });
    expect(job.steps.map((s) => s.status)).toEqual(["done", "done", "done", "done", "done"]);
  });
});
