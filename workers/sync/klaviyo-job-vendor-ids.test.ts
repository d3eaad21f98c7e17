/**
 * A contact a Klaviyo bulk import job added (maps.md K5) is known to Klaviyo by its profile id, which is all a Klaviyo
 * engagement webhook may name: once the job is done, Tessera matches that id to the profile as it does the id of a
 * contact `profile-import` answered for. Through the production engine and plugin against the hosted mock Klaviyo.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findDestinationById } from "../../d1/queries/destinations";
import { findVendorIds } from "../../d1/queries/sync-records";
import { eventually, insertDestination } from "../test-support/destinations";
import { membershipOp } from "../test-support/recording-vendor";
import { seedWorkspace } from "../test-support/seed";
import { destinationStub } from "./consumer";
import { BULK_IMPORT_FROM } from "./destinations/klaviyo";
import { storeEngagements } from "./engagement";

/** A Klaviyo destination syncing audience `vip`, whose first fill of `count` entrants goes into bulk import jobs. */
async function filledInBulk(count: number) {
  const { workspaceId } = await seedWorkspace();
  const base = `http://${crypto.randomUUID()}.klaviyo.test`;
  const destinationId = await insertDestination(workspaceId, {
    type: "klaviyo",
    config: { api_key: "pk_test", base_url: base },
    audiences: ["vip"],
  });
  const emails = Array.from({ length: count }, (_, i) => `m${i}@example.com`);
  const ops = emails.map((email, i) => membershipOp(`prf_m${i}`, "vip", 1, { email }));
  await destinationStub(env, destinationId).enqueue(destinationId, ops);
  const object = env.DESTINATION.getByName(destinationId);
  const awaited = () =>
    runInDurableObject(
      object,
      (_o, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM awaiting_jobs").one().n,
    );
  const jobsComplete = async () => {
    const jobs = (await (await fetch(`${base}/__mock/bulk-import-jobs`)).json()) as Array<{ status: string }>;
    expect(jobs.length).toBeGreaterThan(0);
    expect(jobs.every((j) => j.status === "complete")).toBe(true);
  };
  const klaviyoId = async (email: string) =>
    ((await (await fetch(`${base}/__mock/profiles?email=${email}`)).json()) as Array<{ id: string }>)[0].id;
  const recorded = () => findVendorIds(env.DB, destinationId, emails);
  const cleanUp = () => runInDurableObject(object, (_o, state) => state.storage.deleteAlarm());
  return { destinationId, emails, object, awaited, jobsComplete, klaviyoId, recorded, cleanUp };
}

describe("a contact a Klaviyo bulk import job added", { timeout: 30_000 }, () => {
  it("is matched by its Klaviyo profile id once the job is done", async () => {
    const { destinationId, awaited, jobsComplete, klaviyoId, cleanUp } = await filledInBulk(BULK_IMPORT_FROM);
    // The jobs were sent, Klaviyo processed them, and the engine has looked at them since.
    await eventually(async () => {
      await jobsComplete();
      expect(await awaited()).toBe(0);
    });

    const destination = (await findDestinationById(env.DB, destinationId))!;
    const opened = await storeEngagements(env, destination, [
      {
        vendorEventId: "kl-open-1",
        event: "Email Opened",
        vendorId: await klaviyoId("m7@example.com"),
        occurredAt: new Date().toISOString(),
        properties: {},
      },
    ]);
    expect(opened).toEqual({ ok: true, report: { stored: 1, unmatched: 0 } });
    await cleanUp();
  });

  it("of a job too large to read at one look gets its id at a later look, the job awaited until then", async () => {
    // 1,000 profiles are 10 pages of Klaviyo's 100; a look reads 8 of each job (the upsert's, the list's).
    const { emails, object, awaited, jobsComplete, klaviyoId, recorded, cleanUp } = await filledInBulk(1000);
    const firstLook = await eventually(async () => {
      await jobsComplete();
      const ids = await recorded();
      expect(ids.size).toBeGreaterThan(0);
      // Settled: the look has written every id it read.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await recorded()).size).toBe(ids.size);
      return ids;
    });
    // 8 pages at most (fewer when Klaviyo's 10 job reads a second refused one, read again at the next look).
    expect(firstLook.size).toBeLessThanOrEqual(800);
    expect(firstLook.get("m0@example.com")).toBe(await klaviyoId("m0@example.com"));
    expect(firstLook.has("m999@example.com")).toBe(false);
    // Both jobs still awaited, every item of each: the rest of their ids is read at later looks.
    expect(await awaited()).toBe(2000);

    // The next looks, now rather than 15 s apart.
    await eventually(async () => {
      await runInDurableObject(object, async (_o, state) => {
        state.storage.sql.exec("UPDATE awaiting_jobs SET check_at = 0");
        await state.storage.setAlarm(Date.now());
      });
      expect(await awaited()).toBe(0);
    });
    const all = await recorded();
    expect(all.size).toBe(emails.length);
    expect(all.get("m999@example.com")).toBe(await klaviyoId("m999@example.com"));
    await cleanUp();
  });
});
