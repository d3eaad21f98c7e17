/**
 * A preview in a workspace larger than one request may evaluate is an estimate from a random run of its profiles;
 * a smaller one is exact (the API tests in `workers/api/audiences.test.ts` cover that path through the route).
 */
import { env as workerEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { defineAll } from "../test-support/definitions";
import { track } from "../test-support/messages";
import { observedD1 } from "../test-support/observed-d1";
import { seedWorkspace } from "../test-support/seed";
import { store } from "../test-support/store-messages";
import { previewDefinition } from "./preview";

const at = "2025-03-01T00:00:00.000Z";

async function workspaceOf(buyers: number, readers: number) {
  const { workspaceId } = await seedWorkspace();
  const bought = (await store(
    workspaceId,
    Array.from({ length: buyers }, (_, i) => track("Order Completed", at, { anonymousId: `buyer-${i}` })),
  )) as string[];
  await store(
    workspaceId,
    Array.from({ length: readers }, (_, i) => track("Email Opened", at, { anonymousId: `reader-${i}` })),
  );
  return { workspaceId, bought };
}

describe("previewing a definition in a large workspace", () => {
  it("scales what a random run of profiles holds to the whole workspace, and says it is an estimate", async () => {
    const { workspaceId, bought } = await workspaceOf(12, 18);
    const everyone = await previewDefinition(workerEnv, workspaceId, { audience: { event: "*" } }, 10);
    // Every profile of the run matches: 10 of 10, scaled to the 30 live profiles.
    expect(everyone.size).toBe(30);
    expect(everyone.estimated).toBe(true);
    expect(everyone.sample).toHaveLength(10);
    expect(everyone.sample).toEqual([...everyone.sample].sort());

    const nobody = await previewDefinition(workerEnv, workspaceId, { audience: { not: { event: "*" } } }, 10);
    expect(nobody).toEqual({ size: 0, sample: [], estimated: true });

    // Buyers are 12 of 30: the estimate is (buyers in the run of 10) × 3, and the sample only names buyers.
    const buyers = await previewDefinition(workerEnv, workspaceId, { audience: { event: "Order Completed" } }, 10);
    expect(buyers.size % 3).toBe(0);
    expect(buyers.size).toBeLessThanOrEqual(30);
    expect(buyers.sample.length).toBe(buyers.size / 3);
    for (const id of buyers.sample) expect(bought).toContain(id);
  });

  it("is exact, without the flag, while the workspace has no more profiles than a preview evaluates", async () => {
    const { workspaceId, bought } = await workspaceOf(3, 4);
    const preview = await previewDefinition(workerEnv, workspaceId, { audience: { event: "Order Completed" } }, 7);
    expect(preview).toEqual({ size: 3, sample: [...bought].sort() });
  });

  it("loses no profile to one created while it lists them", async () => {
    const { workspaceId, bought } = await workspaceOf(3, 0);
    // Another request creates a profile once the preview has first read the workspace's profiles; its id sorts first.
    let created = false;
    const db = observedD1({
      async afterRun(sql) {
        if (created || !/from "profiles"/i.test(sql)) return;
        created = true;
        await workerEnv.DB.prepare("INSERT INTO profiles (id, workspace_id, created_at) VALUES (?, ?, ?)")
          .bind(`prf_${"0".repeat(20)}`, workspaceId, Date.now())
          .run();
      },
    });
    const preview = await previewDefinition({ ...workerEnv, DB: db }, workspaceId, {
      audience: { event: "Order Completed" },
    });
    expect(created).toBe(true);
    expect(preview).toEqual({ size: 3, sample: [...bought].sort() });
  });
});

describe("previewing a definition that names a computed trait or audience", () => {
  it("counts a profile by the workspace's definitions now, before their backfill reached it", async () => {
    const { workspaceId, bought } = await workspaceOf(1, 1);
    // A computed trait defined after the profiles were written; no backfill has evaluated it on them yet.
    await defineAll(workspaceId, { computed: { orders: { op: "count", event: "Order Completed" } } });
    const preview = await previewDefinition(workerEnv, workspaceId, {
      audience: { computed: "orders", op: "gte", value: 1 },
    });
    expect(preview).toEqual({ size: 1, sample: bought });
  });
});
