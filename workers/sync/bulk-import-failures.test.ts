/**
 * A vendor's asynchronous job that fails some of its items after accepting them (Klaviyo's bulk import, maps.md K5/K6),
 * through the production engine and plugin against a mock Klaviyo that processes jobs as Klaviyo does
 * (`test/support/mocks/hosted-vendors.ts`).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findDestinationById } from "../../d1/queries/destinations";
import { listDeadLetters, listSyncLog } from "../../d1/queries/sync-records";
import { eventually, insertDestination } from "../test-support/destinations";
import { membershipOp } from "../test-support/recording-vendor";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";
import { destinationStub } from "./consumer";
import { BULK_IMPORT_FROM } from "./destinations/klaviyo";
import type { MembershipSyncOp } from "./sync-op";

const PHONE = "+15555550100";

describe("a Klaviyo bulk import job that fails a profile after its 202", { timeout: 30_000 }, () => {
  it("records that profile as failed in the sync log and as a replayable dead letter, not as delivered", async () => {
    const { workspaceId, secretKey } = await seedWorkspace();
    const base = `http://${crypto.randomUUID()}.klaviyo.test`;
    const klaviyo = (path: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: {
          authorization: "Klaviyo-API-Key pk_test",
          revision: "2026-07-15",
          "content-type": "application/json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    // Klaviyo holds the email and the phone number as two profiles: importing one profile with both conflicts. The
    // job's synchronous checks cannot see it; it fails while the job runs, in the job's import errors.
    for (const attributes of [{ email: "dup@example.com" }, { phone_number: PHONE }])
      expect((await klaviyo("/api/profile-import", { data: { type: "profile", attributes } })).status).toBe(201);
    const destinationId = await insertDestination(workspaceId, {
      type: "klaviyo",
      config: { api_key: "pk_test", base_url: base },
      audiences: ["vip"],
      traits: ["first_name", "phone"],
    });
    // A backlog large enough for bulk import jobs, as the consumer queues it.
    const ops: MembershipSyncOp[] = Array.from({ length: BULK_IMPORT_FROM }, (_, i) =>
      membershipOp(`prf_m${i}`, "vip", 1, { email: `m${i}@example.com`, traits: { first_name: `M${i}` } }),
    );
    ops[0] = membershipOp("prf_dup", "vip", 1, {
      email: "dup@example.com",
      traits: { first_name: "Dup", phone: PHONE },
    });
    await destinationStub(env, destinationId).enqueue(destinationId, ops);

    const members = async () =>
      (await (await fetch(`${base}/__mock/list-members?name=tessera_vip`)).json()) as string[];
    // The object's alarm sends the jobs, then looks at them again once Klaviyo has processed them.
    await eventually(async () => {
      const jobs = (await (await fetch(`${base}/__mock/bulk-import-jobs`)).json()) as Array<Record<string, unknown>>;
      expect(jobs.length).toBeGreaterThan(0);
      expect(jobs.every((j) => j.status === "complete")).toBe(true);
      expect(jobs.some((j) => j.failed_count === 1)).toBe(true);
      expect(await members()).toHaveLength(BULK_IMPORT_FROM - 1);
    });
    const letters = await eventually(async () => {
      const letters = await listDeadLetters(env.DB, destinationId);
      expect(letters).toHaveLength(1);
      return letters;
    });
    expect(letters[0]).toMatchObject({ profileId: "prf_dup", error: expect.stringContaining("invalid_identity") });
    expect(JSON.parse(letters[0].op)).toMatchObject({ profileId: "prf_dup", audience: "vip", member: true });
    const log = await listSyncLog(env.DB, destinationId, { profileId: "prf_dup", limit: 10 });
    // Newest first: the job's failure after the 202's ok.
    expect(log.map((l) => `${l.action}:${l.outcome}`)).toEqual(["add:fail", "add:ok"]);
    expect(log[0].error).toContain("bulk import job");
    expect(await listSyncLog(env.DB, destinationId, { profileId: "prf_m1", limit: 10 })).toMatchObject([
      { outcome: "ok" },
    ]);
    // Each job reported the profile (its upsert's and its list's): counted failed once, and not delivered.
    expect(await findDestinationById(env.DB, destinationId)).toMatchObject({
      delivered: BULK_IMPORT_FROM - 1,
      failed: 1,
      lastError: expect.stringMatching(/^invalid_identity: .*bulk import job/),
    });

    // Replayed alone, the profile goes through profile-import, which updates the email's profile without the phone
    // another profile holds: listed after all.
    const replay = await api(`/v1/destinations/${destinationId}/dead-letters/replay`, bearer(secretKey), {
      method: "POST",
    });
    expect(await replay.json()).toEqual({ replayed: 1 });
    await eventually(async () => expect(await members()).toContain("dup@example.com"));
    await runInDurableObject(env.DESTINATION.getByName(destinationId), (_o, state) => state.storage.deleteAlarm());
  });
});
