import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { defineAll } from "../test-support/definitions";
import { track } from "../test-support/messages";
import { outboxStateOf } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import { store } from "../test-support/store-messages";
import { outboxRetryDelay } from "./outbox-retry";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("outboxRetryDelay", () => {
  it("doubles its step from 5 s and waits somewhere in the step's upper half", () => {
    expect([1, 2, 3, 4].map((n) => outboxRetryDelay(n, () => 0))).toEqual([2_500, 5_000, 10_000, 20_000]);
    expect([1, 2, 3, 4].map((n) => outboxRetryDelay(n, () => 1))).toEqual([5_000, 10_000, 20_000, 40_000]);
  });

  it("stops growing at 2 minutes, however many failures", () => {
    expect(outboxRetryDelay(6, () => 1)).toBe(120_000);
    expect(outboxRetryDelay(5_000, () => 0)).toBe(60_000);
  });

  it("spreads the retries of profiles that failed together instead of bringing them back at one moment", () => {
    const delays = Array.from({ length: 1_000 }, () => outboxRetryDelay(1));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(2_500);
    expect(Math.max(...delays)).toBeLessThanOrEqual(5_000);
    expect(new Set(delays).size).toBeGreaterThan(500);
  });
});

/** The backoff's bounds after the `failures`-th failure: the upper half of a step doubling from 5 s. */
const step = (failures: number) => Math.min(120_000, 5_000 * 2 ** (failures - 1));

describe("a profile whose outbox the sync queue refuses", () => {
  it("tries again after a growing backoff, not at once, and delivers when the queue takes it", async () => {
    const refused = vi
      .spyOn(env.SYNC_QUEUE, "sendBatch")
      .mockRejectedValue(new Error("Queue sendBatch failed: Internal Server Error"));
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, { audiences: { visitors: { event: "*" } } });
    const stored = Date.now();
    const [landed] = await store(workspaceId, [track("Page Loaded", new Date().toISOString(), { anonymousId: "r1" })]);
    const id = landed as string;

    // The request's delivery is refused, then the object's own: the alarm moves from its backstop to the first retry.
    await vi.waitFor(
      async () => {
        const { alarm } = await outboxStateOf(id);
        expect(refused.mock.calls.length).toBeGreaterThanOrEqual(2);
        expect(alarm).toBeLessThanOrEqual(Date.now() + step(1));
      },
      { timeout: 5_000, interval: 20 },
    );
    const first = await outboxStateOf(id);
    expect(first.outbox).toBe(1);
    expect(first.alarm).toBeGreaterThanOrEqual(stored + step(1) / 2);

    // The alarm's own try fails too: the next one is a longer step away, not "now" (rows still wait in the outbox).
    const beforeAlarm = Date.now();
    await runDurableObjectAlarm(env.PROFILE.getByName(id));
    // The object's own failures: every refused send but the request's (the runtime may also have run the alarm).
    const failures = refused.mock.calls.length - 1;
    expect(failures).toBeGreaterThanOrEqual(2);
    const second = await outboxStateOf(id);
    expect(second.outbox).toBe(1);
    expect(second.alarm).toBeGreaterThanOrEqual(beforeAlarm + step(failures) / 2);
    expect(second.alarm).toBeLessThanOrEqual(Date.now() + step(failures));

    // The queue is back: the next alarm delivers (a row leaves only once the queue took it), nothing is left to retry.
    refused.mockRestore();
    const delivered = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    await runDurableObjectAlarm(env.PROFILE.getByName(id));
    expect(delivered).toHaveBeenCalledTimes(1);
    expect(await outboxStateOf(id)).toEqual({ alarm: null, outbox: 0 });
  });
});
