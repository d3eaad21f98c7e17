import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Deletion, ProfileErased } from "@tessera/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { markIngestDeadLetterReplayed, recordIngestDeadLetter } from "../../d1/queries/dead-letters";
import { emptyDrainRecord, listSyncLog, recordDrain } from "../../d1/queries/sync-records";
import worker from "../index";
import { profileStub } from "../profile/profile-stub";
import { eventually, insertDestination, webhookReceiver } from "../test-support/destinations";
import { identify, track } from "../test-support/messages";
import { basicAuth, bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { resumeDeletions } from "./deletion-job";

afterEach(() => {
  vi.restoreAllMocks();
});

const HOUR = 3_600_000;

/** Jane, two profiles merged into one (an anonymous visit, then a login that linked them). */
async function jane() {
  const ws = await seedWorkspace();
  const [survivor, loser] = await store(ws.workspaceId, [
    track("Product Viewed", "2025-01-01T00:00:00.000Z", { anonymousId: "anon-jane" }),
    identify({ email: "jane@example.com" }, "2025-01-02T00:00:00.000Z", { anonymousId: undefined, userId: "u-jane" }),
    identify({ plan: "pro" }, "2025-01-03T00:00:00.000Z", { anonymousId: "anon-jane", userId: "u-jane" }),
  ]);
  const call = (path: string, method = "GET", body?: unknown) =>
    api(path, bearer(ws.secretKey), {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
  const erase = async () => {
    const res = await call("/v1/profiles/user_id:u-jane", "DELETE");
    expect(res.status).toBe(202);
    return res.json<ProfileErased>();
  };
  const deletion = async (id: string) => {
    const res = await call(`/v1/deletions/${id}`);
    expect(res.status).toBe(200);
    return res.json<Deletion>();
  };
  return { ...ws, survivor: survivor as string, loser: loser as string, call, erase, deletion };
}

const stepStatuses = (d: Deletion) => Object.fromEntries(d.steps.map((s) => [s.name, s.status]));

/** Everything D1 keeps about erasures, as text: where plaintext personal data must not be. */
async function eraseRecords(workspaceId: string): Promise<string> {
  const tables = ["deletions", "suppression_hashes", "suppressions"];
  const rows = await Promise.all(
    tables.map((t) => env.DB.prepare(`SELECT * FROM ${t} WHERE workspace_id = ?`).bind(workspaceId).all()),
  );
  return JSON.stringify(rows.map((r) => r.results));
}

describe("GDPR erase as a durable job", () => {
  it("answers the deletion id, and GET /v1/deletions/:id shows every step done", async () => {
    const { survivor, loser, erase, deletion } = await jane();
    const answer = await erase();
    expect(answer.deletion_id).toMatch(/^del_/);
    const job = await deletion(answer.deletion_id);
    expect(job).toMatchObject({
      id: answer.deletion_id,
      status: "done",
      profile_id: survivor,
      suppressed_identifiers: 3,
      attempts: 0,
      last_error: null,
      next_attempt_at: null,
    });
    expect(job.profile_ids.sort()).toEqual([survivor, loser].sort());
    expect(stepStatuses(job)).toEqual({
      graph: "done",
      profiles: "done",
      memberships: "done",
      dead_letters: "done",
      destinations: "done",
    });
    expect(job.completed_at).not.toBeNull();
  });

  it("keeps no erased email, user id or anonymous id in plaintext once done", async () => {
    const { workspaceId, erase } = await jane();
    await erase();
    const kept = await eraseRecords(workspaceId);
    for (const value of ["jane@example.com", "u-jane", "anon-jane"]) expect(kept).not.toContain(value);
  });

  it("takes the person out of the workspace's dead letters, and leaves everyone else's", async () => {
    const { workspaceId, survivor, loser, erase } = await jane();
    const at = "2025-02-01T00:00:00.000Z";
    const janes = track("Order Completed", at, { anonymousId: undefined, userId: "u-jane" });
    const anonJane = track("Product Viewed", at, { anonymousId: "anon-jane" });
    const bobs = identify({ email: "bob@example.com" }, at, { anonymousId: undefined, userId: "u-bob" });
    const letter = async (name: string, jobs: unknown[], replayed = false) => {
      await recordIngestDeadLetter(env.DB, {
        workspaceId,
        queueMessageId: `${workspaceId}-${name}`,
        jobs: JSON.stringify(jobs),
        messageCount: 0,
        error: "x",
        attempts: 11,
        createdAt: Date.now(),
      });
      if (replayed) {
        const rows = await env.DB.prepare("SELECT id FROM ingest_dead_letters WHERE queue_message_id = ?")
          .bind(`${workspaceId}-${name}`)
          .all<{ id: number }>();
        await markIngestDeadLetterReplayed(env.DB, rows.results[0].id, Date.now());
      }
    };
    await letter("deliver", [
      { kind: "deliver", workspaceId, profileId: survivor, messages: [janes], identifiers: [] },
    ]);
    await letter("mixed", [{ kind: "resolve", workspaceId, messages: [janes, bobs] }]);
    await letter("merge", [{ kind: "merge", workspaceId, from: loser, into: survivor }]);
    await letter("bob", [{ kind: "resolve", workspaceId, messages: [bobs] }]);
    await letter("replayed", [{ kind: "resolve", workspaceId, messages: [anonJane] }], true);
    const destinationId = await insertDestination(workspaceId, { type: "webhook", config: {}, audiences: ["vip"] });
    const op = (profileId: string, kind: string) => JSON.stringify({ kind, profileId, email: "jane@example.com" });
    await env.DB.prepare(
      `INSERT INTO sync_dead_letters (destination_id, profile_id, op, error, created_at)
       VALUES (?1, ?2, ?3, 'x', 0), (?1, ?2, ?4, 'x', 0), (?1, 'prf_bob', ?5, 'x', 0)`,
    )
      .bind(destinationId, survivor, op(survivor, "membership"), op(survivor, "delete"), op("prf_bob", "membership"))
      .run();

    await erase();

    const left = await env.DB.prepare(
      "SELECT queue_message_id AS name, jobs, message_count AS n FROM ingest_dead_letters WHERE workspace_id = ? ORDER BY id",
    )
      .bind(workspaceId)
      .all<{ name: string; jobs: string; n: number }>();
    expect(left.results.map((r) => [r.name.slice(workspaceId.length + 1), r.n])).toEqual([
      ["mixed", 1],
      ["bob", 0],
    ]);
    const text = JSON.stringify(left.results);
    for (const value of ["u-jane", "anon-jane", "jane@example.com"]) expect(text).not.toContain(value);
    expect(text).toContain("bob@example.com");
    const syncLetters = await env.DB.prepare("SELECT profile_id, op FROM sync_dead_letters WHERE destination_id = ?")
      .bind(destinationId)
      .all<{ profile_id: string; op: string }>();
    expect(syncLetters.results.map((r) => [r.profile_id, JSON.parse(r.op).kind]).sort()).toEqual(
      [
        [survivor, "delete"],
        ["prf_bob", "membership"],
      ].sort(),
    );
  });

  it("reads a workspace's many dead letters over several runs, each going on from where the last stopped", async () => {
    const { workspaceId, erase, deletion } = await jane();
    // 150 dead letters of ~100 KB (large batches that failed every retry), one in five Jane's. A run reads at most
    // ten pages of ~512 KB (ERASE_READ): six of these rows a page, 60 a run, so three runs read them all; runs that
    // began again from the first dead letter would never get past the first 60 or so.
    const padding = "x".repeat(100_000);
    for (let i = 0; i < 150; i++) {
      const message = track("Order Completed", "2025-02-01T00:00:00.000Z", {
        anonymousId: undefined,
        userId: i % 5 === 0 ? "u-jane" : `u-other-${i}`,
        properties: { note: padding },
      });
      await recordIngestDeadLetter(env.DB, {
        workspaceId,
        queueMessageId: `${workspaceId}-big-${i}`,
        jobs: JSON.stringify([{ kind: "resolve", workspaceId, messages: [message] }]),
        messageCount: 1,
        error: "x",
        attempts: 11,
        createdAt: Date.now(),
      });
    }
    const count = async (where: string) =>
      (
        await env.DB.prepare(`SELECT count(*) AS n FROM ingest_dead_letters WHERE workspace_id = ? AND ${where}`)
          .bind(workspaceId)
          .first<{ n: number }>()
      )?.n;

    const { deletion_id } = await erase();
    const first = await deletion(deletion_id);
    expect(first).toMatchObject({ status: "pending", attempts: 0, last_error: null });
    expect(stepStatuses(first)).toMatchObject({ profiles: "done", dead_letters: "pending", destinations: "pending" });
    expect(await count("jobs LIKE '%u-jane%'")).toBeGreaterThan(0);
    // Progress, not a failure: due again at once (the next minute's cron), no backoff.
    expect(Date.parse(first.next_attempt_at as string)).toBeLessThanOrEqual(Date.now());

    let runs = 1;
    while ((await deletion(deletion_id)).status !== "done" && runs < 5) {
      await resumeDeletions(env);
      runs++;
    }
    expect(runs).toBe(3);
    expect(await deletion(deletion_id)).toMatchObject({ status: "done", attempts: 0 });
    expect(await count("jobs LIKE '%u-jane%'")).toBe(0);
    expect(await count("true")).toBe(120);
  });

  it("answers 404 to another workspace, an unknown id, and 401 to a write key", async () => {
    const { writeKey, erase } = await jane();
    const { deletion_id } = await erase();
    const other = await seedWorkspace();
    const foreign = await api(`/v1/deletions/${deletion_id}`, bearer(other.secretKey));
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toMatchObject({ error: { code: "not_found" } });
    expect((await api("/v1/deletions/del_unknown", bearer(other.secretKey))).status).toBe(404);
    const withWriteKey = await api(`/v1/deletions/${deletion_id}`, basicAuth(writeKey));
    expect(withWriteKey.status).toBe(401);
  });

  it("records the request before erasing, and the cron finishes a run a destination's object failed", async () => {
    const { workspaceId, survivor, loser, erase, deletion, call } = await jane();
    const hook = await webhookReceiver(200);
    const destinationId = await insertDestination(workspaceId, {
      type: "webhook",
      config: { url: hook.url, secret: "whsec_test_0123456789abcdef" },
      audiences: [],
    });
    const realGetByName = env.DESTINATION.getByName.bind(env.DESTINATION);
    vi.spyOn(env.DESTINATION, "getByName").mockImplementation((name) => {
      if (name === destinationId) return { enqueue: () => Promise.reject(new Error("object unavailable")) } as never;
      return realGetByName(name);
    });
    const answer = await erase();
    const stopped = await deletion(answer.deletion_id);
    expect(stopped).toMatchObject({ status: "pending", attempts: 1, last_error: "object unavailable" });
    expect(stepStatuses(stopped)).toEqual({
      graph: "done",
      profiles: "done",
      memberships: "done",
      dead_letters: "done",
      destinations: "pending",
    });
    // The person is gone here already; only the destinations are still to be told.
    expect((await call("/v1/profiles/user_id:u-jane")).status).toBe(404);
    expect(Date.parse(stopped.next_attempt_at as string)).toBeGreaterThan(Date.now());
    vi.restoreAllMocks();

    // Not due yet: the cron leaves it alone.
    await resumeDeletions(env);
    expect((await deletion(answer.deletion_id)).status).toBe("pending");
    const done = await eventually(async () => {
      await resumeDeletions(env, Date.now() + HOUR);
      const job = await deletion(answer.deletion_id);
      expect(job.status).toBe("done");
      return job;
    });
    expect(stepStatuses(done).destinations).toBe("done");

    // The retry told the destination about the person and every identifier the first run erased.
    const deletes = (await hook.received()).filter((r) => r.event.type === "profile.deleted");
    expect(deletes.length).toBeGreaterThan(0);
    for (const { event } of deletes) {
      expect([survivor, loser]).toContain(event.profile.id);
      expect(event.profile.identifiers).toEqual(
        expect.arrayContaining([
          { type: "email", value: "jane@example.com" },
          { type: "user_id", value: "u-jane" },
          { type: "anonymous_id", value: "anon-jane" },
        ]),
      );
    }
    // Held until the destinations were told, then dropped.
    expect(await eraseRecords(workspaceId)).not.toContain("jane@example.com");
  });

  it("retries a profile wipe that failed without erasing the graph twice, then wipes every object", async () => {
    const { survivor, loser, erase, deletion } = await jane();
    const realGetByName = env.PROFILE.getByName.bind(env.PROFILE);
    vi.spyOn(env.PROFILE, "getByName").mockImplementation((name) => {
      if (name === loser) return { erase: () => Promise.reject(new Error("object unavailable")) } as never;
      return realGetByName(name);
    });
    const answer = await erase();
    const stopped = await deletion(answer.deletion_id);
    expect(stopped).toMatchObject({ status: "pending", attempts: 1, last_error: "object unavailable" });
    expect(stepStatuses(stopped)).toMatchObject({ graph: "done", profiles: "pending" });
    const graphDoneAt = stopped.steps[0].done_at;

    vi.restoreAllMocks();
    await resumeDeletions(env, Date.now() + HOUR);
    const done = await deletion(answer.deletion_id);
    expect(done.status).toBe("done");
    expect(done.steps[0].done_at).toBe(graphDoneAt);
    expect(done.suppressed_identifiers).toBe(3);
    for (const id of [survivor, loser]) {
      expect(await profileStub(env.PROFILE, id).getProfile()).toEqual({ status: "deleted" });
    }
  });

  it("is done only once every destination deleted the person: a failed delete keeps it pending and says why", async () => {
    const { workspaceId, survivor, erase, deletion } = await jane();
    // The customer's endpoint refuses the delete (400: a failure for good, so a dead letter) until it is fixed.
    const hook = await webhookReceiver(400);
    const destinationId = await insertDestination(workspaceId, {
      type: "webhook",
      config: { url: hook.url, secret: "whsec_test_0123456789abcdef" },
      audiences: [],
    });
    // A vendor's answer about Jane before the erase, in the sync log: it names her email.
    await recordDrain(env.DB, destinationId, {
      ...emptyDrainRecord(Date.now()),
      log: [
        {
          destinationId,
          at: Date.now(),
          profileId: survivor,
          audience: "vip",
          action: "add",
          outcome: "fail",
          attempts: 1,
          error: "Mailchimp: jane@example.com looks fake or invalid, please enter a real email address.",
        },
      ],
    });
    const { deletion_id } = await erase();
    const waiting = await deletion(deletion_id);
    expect(waiting.status).toBe("pending");
    expect(stepStatuses(waiting)).toMatchObject({ dead_letters: "done", destinations: "pending" });

    // Each cron run looks at the destinations' answers (and hands the delete again to one that has not confirmed it).
    const later = (n: number) => Date.now() + n * HOUR;
    const failed = await eventually(async () => {
      await resumeDeletions(env, later(1));
      const job = await deletion(deletion_id);
      expect(job.last_error).toContain("dead-lettered");
      return job;
    });
    expect(failed).toMatchObject({ status: "pending", completed_at: null });
    expect(failed.last_error).toContain(destinationId);
    expect(failed.attempts).toBeGreaterThan(0);
    expect(stepStatuses(failed).destinations).toBe("pending");
    const letters = () =>
      env.DB.prepare("SELECT op FROM sync_dead_letters WHERE destination_id = ?")
        .bind(destinationId)
        .all<{ op: string }>();
    expect((await letters()).results.map((r) => JSON.parse(r.op).kind)).toContain("delete");
    // What a vendor call in flight during the erase wrote after the dead-letters step (email and traits sent).
    await env.DB.prepare(
      "INSERT INTO sync_dead_letters (destination_id, profile_id, op, error, created_at) VALUES (?, ?, ?, 'x', 0)",
    )
      .bind(
        destinationId,
        survivor,
        JSON.stringify({ kind: "membership", profileId: survivor, email: "jane@example.com" }),
      )
      .run();

    // The endpoint is fixed: the next runs hand the delete to it again, it confirms, and the job is done.
    await fetch(`http://receiver.test/__mock/answers?path=${new URL(hook.url).pathname}`, {
      method: "POST",
      body: JSON.stringify([{ status: 200 }]),
    });
    const done = await eventually(async () => {
      await resumeDeletions(env, later(2));
      const job = await deletion(deletion_id);
      expect(job.status).toBe("done");
      return job;
    });
    expect(done).toMatchObject({ last_error: null, next_attempt_at: null });
    expect(stepStatuses(done).destinations).toBe("done");
    expect((await hook.received()).some((r) => r.event.type === "profile.deleted")).toBe(true);
    // Nothing of the person is kept: no dead letter, no identifiers, no destination answers.
    expect((await letters()).results).toEqual([]);
    expect(await eraseRecords(workspaceId)).not.toContain("jane@example.com");
    // The sync log keeps the deletes it asked for and their answers, nothing else of her.
    const log = await listSyncLog(env.DB, destinationId, { limit: 100 });
    expect(log.length).toBeGreaterThan(0);
    expect(new Set(log.map((entry) => entry.action))).toEqual(new Set(["delete"]));
    expect(JSON.stringify(log)).not.toContain("jane@example.com");
    const answers = await env.DB.prepare("SELECT count(*) AS n FROM deletion_destinations WHERE deletion_id = ?")
      .bind(deletion_id)
      .first<{ n: number }>();
    expect(answers?.n).toBe(0);
  });

  it("is done at once when the workspace has no destination, and counts a deleted destination as done", async () => {
    const { workspaceId, erase, deletion } = await jane();
    const destinationId = await insertDestination(workspaceId, {
      type: "webhook",
      config: { url: (await webhookReceiver(400)).url, secret: "whsec_test_0123456789abcdef" },
      audiences: [],
    });
    const { deletion_id } = await erase();
    expect((await deletion(deletion_id)).status).toBe("pending");
    await env.DB.prepare("DELETE FROM destinations WHERE id = ?").bind(destinationId).run();
    await resumeDeletions(env, Date.now() + HOUR);
    expect((await deletion(deletion_id)).status).toBe("done");
  });

  it("waits for disabled destinations, whose vendors may hold the person from before, until enabled or deleted", async () => {
    const { workspaceId, call, erase, deletion } = await jane();
    const hook = await webhookReceiver(200);
    const disabled = () =>
      insertDestination(workspaceId, {
        type: "webhook",
        config: { url: hook.url, secret: "whsec_test_0123456789abcdef" },
        audiences: [],
        enabled: false,
      });
    const [resumed, removed] = [await disabled(), await disabled()];
    // Turned off by an operator after its endpoint refused Jane; its last error names her.
    await recordDrain(env.DB, resumed, {
      ...emptyDrainRecord(Date.now()),
      lastError: "400: jane@example.com is not a valid recipient",
    });
    const { deletion_id } = await erase();
    await resumeDeletions(env, Date.now() + HOUR);
    const waiting = await deletion(deletion_id);
    expect(waiting.status).toBe("pending");
    expect(waiting.last_error).toContain(`destination ${resumed} (webhook) is disabled`);
    expect(waiting.last_error).toContain(`destination ${removed} (webhook) is disabled`);
    expect(await hook.received()).toEqual([]);
    // Nothing changes until someone turns one on or deletes it: the job does not look again every 30 s meanwhile.
    expect(Date.parse(waiting.next_attempt_at ?? "")).toBeGreaterThan(Date.now() + 30 * 60_000);

    // Each change brings the job forward: the cron's next minute looks, not the end of the long wait.
    const nextMinute = () => resumeDeletions(env, Date.now() + 60_000);
    expect((await call(`/v1/destinations/${resumed}`, "PUT", { enabled: true })).status).toBe(200);
    const longWait = (job: Deletion) => Date.parse(job.next_attempt_at ?? "") > Date.now() + 30 * 60_000;
    await eventually(async () => {
      await nextMinute();
      // Its delete went out and was confirmed: the job waits for the other one alone, the long wait again.
      const job = await deletion(deletion_id);
      expect(job.last_error).not.toContain(resumed);
      expect(longWait(job)).toBe(true);
    });
    // The job hands an unconfirmed delete again each look, so one confirmed just after a look goes twice: harmless.
    expect(new Set((await hook.received()).map((r) => r.event.type))).toEqual(new Set(["profile.deleted"]));
    const view = await (await call(`/v1/destinations/${resumed}`)).json<{ status: { last_error: unknown } }>();
    expect(view.status.last_error).toBeNull(); // the delete went through: nothing there names her any more

    expect((await call(`/v1/destinations/${removed}`, "DELETE")).status).toBe(204);
    await nextMinute();
    const done = await deletion(deletion_id);
    expect(done.status).toBe("done");
    expect(stepStatuses(done).destinations).toBe("done");
  });

  it("runs through the Worker's cron", async () => {
    const { loser, erase, deletion } = await jane();
    const realGetByName = env.PROFILE.getByName.bind(env.PROFILE);
    vi.spyOn(env.PROFILE, "getByName").mockImplementation((name) => {
      if (name === loser) return { erase: () => Promise.reject(new Error("object unavailable")) } as never;
      return realGetByName(name);
    });
    const { deletion_id } = await erase();
    expect((await deletion(deletion_id)).status).toBe("pending");
    vi.restoreAllMocks();
    // Make it due now, as a minute later would.
    await env.DB.prepare("UPDATE deletions SET next_attempt_at = 0 WHERE id = ?").bind(deletion_id).run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect((await deletion(deletion_id)).status).toBe("done");
  });
});
