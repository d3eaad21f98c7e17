/**
 * Two changes of one definition at once (DESIGN §6, `PUT /v1/audiences/:key`): each answer describes what that request
 * stored, never the other's, and the definition ends as one of them, at the version its answer gave.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Audience, AudienceDefinition } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import worker from "../index";
import { bearer, seedWorkspace } from "../test-support/seed";

type Workspace = Awaited<ReturnType<typeof seedWorkspace>>;

/** `method path` through the Worker's fetch handler, with `overrides` in its environment. */
async function call(ws: Workspace, method: string, path: string, body?: unknown, overrides: Partial<Env> = {}) {
  const request = new Request(`http://x${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: bearer(ws.secretKey) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function answered(res: Promise<Response>, status = 200): Promise<Audience> {
  const done = await res;
  expect(done.status, await done.clone().text()).toBe(status);
  return done.json<Audience>();
}

/** The backfill queue, holding each send until `release()`; `sent` resolves once the first send was asked for. */
function heldQueue() {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let sent = () => {};
  const asked = new Promise<void>((resolve) => {
    sent = resolve;
  });
  const queue = {
    async send(body: unknown) {
      sent();
      await released;
      return env.BACKFILL_QUEUE.send(body);
    },
  } as unknown as Queue;
  return { queue, release, sent: asked };
}

const plan = (value: string): AudienceDefinition => ({ trait: "plan", op: "eq", value });

describe("two PUTs of one audience at once", () => {
  it("answer each with the definition it stored, when the other lands before the first answers", async () => {
    const ws = await seedWorkspace();
    await answered(call(ws, "POST", "/v1/audiences", { key: "vip", definition: plan("start") }), 201);
    // A's change lands, and A is held at its backfill's send, between its write and its answer; B lands meanwhile.
    const held = heldQueue();
    const a = answered(
      call(
        ws,
        "PUT",
        "/v1/audiences/vip",
        { definition: plan("a"), name: "A" },
        {
          BACKFILL_QUEUE: held.queue,
        },
      ),
    );
    await held.sent;
    const b = await answered(call(ws, "PUT", "/v1/audiences/vip", { definition: plan("b"), name: "B" }));
    held.release();

    expect(await a).toMatchObject({ definition: plan("a"), name: "A", version: 2 });
    expect(b).toMatchObject({ definition: plan("b"), name: "B", version: 3 });
    const final = await answered(call(ws, "GET", "/v1/audiences/vip"));
    expect(final).toMatchObject({ definition: plan("b"), name: "B", version: 3 });
  });

  it("answer each with what it stored when sent together, and end as one of them at its version", async () => {
    const ws = await seedWorkspace();
    await answered(call(ws, "POST", "/v1/audiences", { key: "vip", definition: plan("start") }), 201);
    for (let round = 0; round < 5; round++) {
      const [a, b] = [plan(`a${round}`), plan(`b${round}`)];
      const answers = await Promise.all([
        answered(call(ws, "PUT", "/v1/audiences/vip", { definition: a, name: `A${round}` })),
        answered(call(ws, "PUT", "/v1/audiences/vip", { definition: b, name: `B${round}` })),
      ]);
      expect(answers.map((x) => [x.definition, x.name])).toEqual([
        [a, `A${round}`],
        [b, `B${round}`],
      ]);
      const final = await answered(call(ws, "GET", "/v1/audiences/vip"));
      const last = answers.find((x) => x.version === final.version);
      expect(last, `no answer has the final version ${final.version}`).toBeDefined();
      expect(final).toMatchObject({ definition: last?.definition, name: last?.name });
      expect(Math.abs(answers[0].version - answers[1].version)).toBe(1);
    }
  });
});
