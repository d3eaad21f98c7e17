/**
 * A build's `ready` (DESIGN §6) means its members are listed: a backfill page counts a profile only once the
 * profile's membership changes are in D1, not merely evaluated in its object while D1 refused them.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Audience, AudienceMembersPage, BackfillMessage, BackfillPage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { readDefinitionsVersion } from "../../d1/queries/definitions";
import { liveProfileIds } from "../../d1/queries/profiles";
import { QUEUE } from "../shared/queues";
import { identify } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { uid } from "../test-support/worker-requests";
import { pagesOf } from "./backfill";
import { backfillDepsFor, handleBackfill } from "./backfill-consumer";

const PRO = { trait: "plan", op: "eq", value: "pro" };

/** Delivers `page` to the consumer with real D1 and objects; returns what it sent again and whether it acked. */
async function deliver(page: BackfillPage) {
  const sent: BackfillMessage[] = [];
  const queue = {
    async sendBatch(messages: Iterable<MessageSendRequest>) {
      for (const m of messages) sent.push(m.body as BackfillMessage);
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
    },
  };
  const batch = createMessageBatch(QUEUE.backfill, [{ id: "p", timestamp: new Date(), attempts: 1, body: page }]);
  await handleBackfill(batch, env, { ...backfillDepsFor(env), queue });
  const { explicitAcks } = await getQueueResult(batch, createExecutionContext());
  return { acked: explicitAcks.includes("p"), sent };
}

describe("a build whose member D1 refused at first", () => {
  it("stays building until the member is listed, then is ready with it", async () => {
    const ws = await seedWorkspace("ready");
    const call = async <T>(path: string, init?: RequestInit) => (await api(path, bearer(ws.secretKey), init)).json<T>();
    const userId = uid("u");
    const [member] = await store(ws.workspaceId, [identify({ plan: "pro" }, "2025-06-01T12:00:00.000Z", { userId })]);
    if (!member) throw new Error("profile not stored");
    // D1 refuses this profile's member rows for now: an outage while its object delivers them.
    const refusal = `refuse_${member}`;
    await env.DB.prepare(
      `CREATE TRIGGER ${refusal} BEFORE INSERT ON audience_members WHEN NEW.profile_id = '${member}'
       BEGIN SELECT RAISE(ABORT, 'D1 is unavailable'); END`,
    ).run();
    const dropRefusal = () => env.DB.prepare(`DROP TRIGGER IF EXISTS ${refusal}`).run();
    try {
      await call("/v1/audiences", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key: "pro", definition: PRO }),
      });
      // The build's page, as its plan sends it (the creation's own backfill runs beside the test, counting the same).
      const [page] = pagesOf(
        {
          kind: "backfill-plan",
          workspaceId: ws.workspaceId,
          buildVersion: await readDefinitionsVersion(env.DB, ws.workspaceId),
          target: { kind: "audience", key: "pro", run: 0 },
          after: null,
          listed: 0,
        },
        await liveProfileIds(env.DB, ws.workspaceId, null, 100),
      );
      const first = await deliver(page);
      expect(first.acked).toBe(true);
      const members = () => call<AudienceMembersPage>("/v1/audiences/pro/members");
      expect((await members()).data).toEqual([]);
      expect((await call<Audience>("/v1/audiences/pro")).status).toEqual({ state: "building", processed: 0, total: 1 });
      // The member is sent again; once D1 takes its rows, it counts.
      expect(first.sent).toEqual([{ ...page, attempt: 1 }]);
      await dropRefusal();
      await deliver(first.sent[0] as BackfillPage);
      expect((await call<Audience>("/v1/audiences/pro")).status).toEqual({ state: "ready", processed: 1, total: 1 });
      expect((await members()).data.map((m) => m.profile_id)).toEqual([member]);
    } finally {
      await dropRefusal();
    }
  });
});
