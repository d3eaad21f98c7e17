import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { forgetCachedKeys } from "../shared/api-keys";
import { basicAuth, bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";

describe("secret key authentication", () => {
  it("answers an unknown, a revoked and a write key with the same 401, so a probe learns nothing (issue 10, #9)", async () => {
    const live = await seedWorkspace("probe-live");
    const revoked = await seedWorkspace("probe-revoked");
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND kind = 'secret'")
      .bind(Date.now(), revoked.workspaceId)
      .run();
    forgetCachedKeys();

    const answers = [];
    for (const auth of [
      bearer(`sk_${crypto.randomUUID()}`),
      bearer(revoked.secretKey),
      bearer(live.writeKey),
      basicAuth(live.writeKey),
    ]) {
      const res = await api("/v1/identity-rules", auth);
      answers.push({ status: res.status, body: await res.json() });
    }
    expect(answers[0]).toEqual({
      status: 401,
      body: { error: { code: "authentication_error", message: expect.stringMatching(/^Invalid secret key/) } },
    });
    for (const answer of answers.slice(1)) expect(answer).toEqual(answers[0]);
    expect((await api("/v1/identity-rules", bearer(live.secretKey))).status).toBe(200);
  });
});
