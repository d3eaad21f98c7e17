/**
 * What a Klaviyo bulk import job still queued means for later changes of its people (maps.md K5/K6): it writes its
 * profiles and list entries when it runs, so a newer change sent meanwhile must not land before it. Through the
 * production engine and plugin against the hosted mock Klaviyo, whose jobs stay queued until the test runs them.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { listDeadLetters, listSyncLog } from "../../d1/queries/sync-records";
import { eventually, insertDestination } from "../test-support/destinations";
import { membershipOp } from "../test-support/recording-vendor";
import { seedWorkspace } from "../test-support/seed";
import { destinationStub } from "./consumer";
import { BULK_IMPORT_FROM } from "./destinations/klaviyo";
import { MAX_ATTEMPTS } from "./retry-schedule";

/** A Klaviyo destination whose first fill of the audience went into bulk import jobs Klaviyo has not run yet. */
async function filledByQueuedJobs() {
  const { workspaceId } = await seedWorkspace();
  const base = `http://${crypto.randomUUID()}.klaviyo.test`;
  // Klaviyo gets to the jobs when the test says so.
  await fetch(`${base}/__mock/bulk-import-delay?ms=600000`, { method: "POST" });
  const destinationId = await insertDestination(workspaceId, {
    type: "klaviyo",
    config: { api_key: "pk_test", base_url: base },
    audiences: ["vip"],
    traits: ["first_name"],
  });
  const stub = destinationStub(env, destinationId);
  const ops = Array.from({ length: BULK_IMPORT_FROM }, (_, i) =>
    membershipOp(`prf_m${i}`, "vip", 1, { email: `m${i}@example.com`, traits: { first_name: "Old" } }),
  );
  await stub.enqueue(destinationId, ops);
  await eventually(async () => {
    const jobs = (await (await fetch(`${base}/__mock/bulk-import-jobs`)).json()) as Array<{ status: string }>;
    // The contacts' job and the list's, both accepted and waiting at Klaviyo.
    expect(jobs.map((j) => j.status)).toEqual(["queued", "queued"]);
    expect(await stub.pendingCount()).toBe(0);
  });
  const log = async (profileId: string) =>
    (await listSyncLog(env.DB, destinationId, { profileId, limit: 20 })).map((l) => ({
      step: `${l.action}:${l.outcome}`,
      attempts: l.attempts,
      error: l.error,
    }));
  /** Klaviyo runs the queued jobs; the object looks at them and at what waits now rather than on its schedule. */
  const runJobs = async () => {
    await fetch(`${base}/__mock/bulk-import-jobs/run`, { method: "POST" });
    await runInDurableObject(env.DESTINATION.getByName(destinationId), async (_o, state) => {
      state.storage.sql.exec("UPDATE awaiting_jobs SET check_at = 0");
      state.storage.sql.exec("UPDATE pending SET not_before = 0");
      await state.storage.setAlarm(Date.now());
    });
  };
  const cleanUp = () =>
    runInDurableObject(env.DESTINATION.getByName(destinationId), (_o, state) => state.storage.deleteAlarm());
  return { base, destinationId, stub, log, runJobs, cleanUp };
}

describe("a Klaviyo bulk import job still queued", { timeout: 30_000 }, () => {
  it("does not write a member's older traits over a newer change sent one by one", async () => {
    const { base, destinationId, stub, log, runJobs, cleanUp } = await filledByQueuedJobs();
    const firstName = async () =>
      (
        (await (await fetch(`${base}/__mock/profiles?email=m0@example.com`)).json()) as Array<{ first_name?: string }>
      )[0]?.first_name;

    // A newer change of one member while the jobs still hold her older traits: one contact, so profile-import.
    await stub.enqueue(destinationId, [
      membershipOp("prf_m0", "vip", 2, { email: "m0@example.com", traits: { first_name: "New" } }),
    ]);
    await eventually(async () => expect((await log("prf_m0")).length).toBeGreaterThanOrEqual(2));
    await runJobs();

    // The job wrote the older traits when it ran; the newer change goes after it, so Klaviyo ends with it.
    await eventually(async () => {
      expect(await stub.pendingCount()).toBe(0);
      expect(await firstName()).toBe("New");
      // The drain writes its log after it settled its rows.
      expect((await log("prf_m0"))[0]).toMatchObject({ step: "upsert:ok" });
    });
    const [, ...before] = await log("prf_m0");
    // Until then it waited for the job, spending no attempt (the job is the reason, not a failure).
    expect(before.at(-1)).toMatchObject({ step: "add:ok" });
    for (const waited of before.slice(0, -1))
      expect(waited).toMatchObject({ step: "upsert:retry", attempts: 0, error: expect.stringContaining("job") });
    expect(await listDeadLetters(env.DB, destinationId)).toEqual([]);
    await cleanUp();
  });

  it("holds a removal from its list without spending its attempts while the job is known to run", async () => {
    const { base, destinationId, stub, log, runJobs, cleanUp } = await filledByQueuedJobs();
    const pendingAttempts = () =>
      runInDurableObject(
        env.DESTINATION.getByName(destinationId),
        (_o, state) =>
          state.storage.sql.exec<{ attempts: number }>("SELECT attempts FROM pending").toArray()[0]?.attempts,
      );

    await stub.enqueue(destinationId, [membershipOp("prf_m0", "vip", 2, { member: false, email: "m0@example.com" })]);
    await eventually(async () => expect((await log("prf_m0")).map((l) => l.step)).toEqual(["remove:retry", "add:ok"]));

    // As after 20 minutes of an ordinary retry's attempts: the next one would be its last. A job that long is normal
    // at Klaviyo, and the object still awaits it, so the removal keeps waiting rather than dead-lettering.
    await runInDurableObject(env.DESTINATION.getByName(destinationId), async (_o, state) => {
      state.storage.sql.exec("UPDATE pending SET attempts = ?, not_before = 0", MAX_ATTEMPTS - 1);
      await state.storage.setAlarm(Date.now());
    });
    const notBefore = () =>
      runInDurableObject(
        env.DESTINATION.getByName(destinationId),
        (_o, state) =>
          state.storage.sql.exec<{ at: number }>("SELECT not_before AS at FROM pending").toArray()[0]?.at ?? 0,
      );
    // Tried again: it waits once more (until the job's next look), and the log said so once, not at every look.
    await eventually(async () => expect(await notBefore()).toBeGreaterThan(0));
    expect((await log("prf_m0")).map((l) => l.step)).toEqual(["remove:retry", "add:ok"]);
    expect(await pendingAttempts()).toBe(MAX_ATTEMPTS - 1);
    expect(await listDeadLetters(env.DB, destinationId)).toEqual([]);

    // Once the job ran, the removal goes: the job listed her, the removal takes her off.
    await runJobs();
    await eventually(async () => {
      expect(await stub.pendingCount()).toBe(0);
      const members = (await (await fetch(`${base}/__mock/list-members?name=tessera_vip`)).json()) as string[];
      expect(members).toHaveLength(BULK_IMPORT_FROM - 1);
      expect(members).not.toContain("m0@example.com");
      expect((await log("prf_m0"))[0]).toMatchObject({ step: "remove:ok" });
    });
    expect(await listDeadLetters(env.DB, destinationId)).toEqual([]);
    await cleanUp();
  });

  it("holds a member's new email with the former's removal while a job still adds the former", async () => {
    const { base, destinationId, stub, log, runJobs, cleanUp } = await filledByQueuedJobs();
    const listed = async () => (await (await fetch(`${base}/__mock/list-members?name=tessera_vip`)).json()) as string[];

    await stub.enqueue(destinationId, [membershipOp("prf_m0", "vip", 2, { email: "renamed@example.com" })]);
    await eventually(async () => expect((await log("prf_m0")).map((l) => l.step)).toEqual(["add:retry", "add:ok"]));
    expect((await log("prf_m0"))[0]).toMatchObject({ attempts: 0, error: expect.stringContaining("job") });

    // Once the job listed the former email, the swap goes: the new email listed, the former one off.
    await runJobs();
    await eventually(async () => {
      expect(await stub.pendingCount()).toBe(0);
      const members = await listed();
      expect(members).toContain("renamed@example.com");
      expect(members).not.toContain("m0@example.com");
    });
    await cleanUp();
  });

  it("holds only the removals of contacts a job adds: another member leaves the list at once", async () => {
    const { base, destinationId, stub, log, cleanUp } = await filledByQueuedJobs();
    const listed = async () => (await (await fetch(`${base}/__mock/list-members?name=tessera_vip`)).json()) as string[];

    // One contact alone goes by profile-import and a list call, no job; the jobs adding the others are still queued.
    await stub.enqueue(destinationId, [membershipOp("prf_solo", "vip", 1, { email: "solo@example.com" })]);
    await eventually(async () => expect(await listed()).toContain("solo@example.com"));
    await stub.enqueue(destinationId, [
      membershipOp("prf_solo", "vip", 2, { member: false, email: "solo@example.com" }),
    ]);

    await eventually(async () => {
      expect(await stub.pendingCount()).toBe(0);
      expect(await listed()).toEqual([]);
    });
    expect((await log("prf_solo")).map((l) => l.step)).toEqual(["remove:ok", "add:ok"]);
    await cleanUp();
  });
});
