/**
 * A backfill while live events keep arriving (issue 7): the backfill's page and the pipeline's writes interleave on the
 * same profiles, and every event is counted exactly once, none lost. Evaluation recomputes from each profile's event
 * log inside the commit of whatever triggered it, so an evaluation that runs twice, or sees an event the live write
 * already evaluated, cannot double count.
 */

import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Profile } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { readDefinitionsVersion } from "../../d1/queries/definitions";
import { liveProfileIds } from "../../d1/queries/profiles";
import { profileStub } from "../profile/profile-stub";
import { QUEUE } from "../shared/queues";
import { track } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { uid } from "../test-support/worker-requests";
import { pagesOf } from "./backfill";
import { backfillDepsFor, handleBackfill } from "./backfill-consumer";

const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();

async function computedOf(profileId: string): Promise<Profile["computed"]> {
  const read = await profileStub(env.PROFILE, profileId).getProfile();
  if (read.status !== "ok") throw new Error(read.status);
  return read.profile.computed;
}

describe("backfill with live events arriving", () => {
  it("counts every order once, whether the backfill or the live write evaluated it", async () => {
    const ws = await seedWorkspace();
    const users = Array.from({ length: 6 }, () => uid("u"));
    // History before the definition exists: two orders each.
    for (const userId of users) {
      await store(ws.workspaceId, [
        track("Order Completed", at(30), { userId, anonymousId: undefined }),
        track("Order Completed", at(20), { userId, anonymousId: undefined }),
      ]);
    }
    const created = await api("/v1/computed-traits", bearer(ws.secretKey), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: "orders", definition: { op: "count", event: "Order Completed" } }),
    });
    expect(created.status).toBe(201);
    const buildVersion = await readDefinitionsVersion(env.DB, ws.workspaceId);

    // The backfill's page runs while each profile receives a third order live.
    const ids = await liveProfileIds(env.DB, ws.workspaceId, null, 100);
    expect(ids).toHaveLength(users.length);
    const [page] = pagesOf(
      {
        kind: "backfill-plan",
        workspaceId: ws.workspaceId,
        buildVersion,
        target: { kind: "computed_trait", key: "orders", run: 0 },
        after: null,
        listed: 0,
      },
      ids,
    );
    const batch = createMessageBatch(QUEUE.backfill, [{ id: "p0", timestamp: new Date(), attempts: 1, body: page }]);
    const live = users.map((userId) =>
      store(ws.workspaceId, [track("Order Completed", at(1), { userId, anonymousId: undefined })]),
    );
    await Promise.all([handleBackfill(batch, env, backfillDepsFor(env)), ...live]);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toEqual(["p0"]);
    // And the same page again (a queue delivers at least once): still counted once.
    await handleBackfill(
      createMessageBatch(QUEUE.backfill, [{ id: "p1", timestamp: new Date(), attempts: 2, body: page }]),
      env,
    );

    for (const id of ids) expect(await computedOf(id)).toEqual({ orders: 3 });
  });
});
