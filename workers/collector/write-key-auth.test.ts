import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { forgetCachedKeys } from "../shared/api-keys";
import { seedWorkspace } from "../test-support/seed";
import { post, uid } from "../test-support/worker-requests";

const track = (key: string) => post("/v1/track", { event: "Key Probed", anonymousId: uid("anon") }, { key });

describe("write key authentication", () => {
  it("answers an unknown, a revoked and a secret key with the same 401, so a probe learns nothing (issue 10, #9)", async () => {
    const live = await seedWorkspace("probe-live");
    const revoked = await seedWorkspace("probe-revoked");
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND kind = 'write'")
      .bind(Date.now(), revoked.workspaceId)
      .run();
    forgetCachedKeys();

    const answers = [];
    for (const key of [`wk_${crypto.randomUUID()}`, revoked.writeKey, live.secretKey]) {
      const res = await track(key);
      answers.push({ status: res.status, body: await res.json() });
    }
    expect(answers[0]).toEqual({
      status: 401,
      body: { error: { code: "authentication_error", message: expect.stringMatching(/^Invalid write key/) } },
    });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    // The same key in the body is refused in the same words.
    const inBody = await post("/v1/batch", {
      writeKey: live.secretKey,
      batch: [{ type: "track", event: "E", anonymousId: uid("a") }],
    });
    expect(await inBody.json()).toEqual(answers[0].body);
    expect((await track(live.writeKey)).status).toBe(200);
  });
});
