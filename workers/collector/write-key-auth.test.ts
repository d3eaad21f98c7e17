import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { forgetCachedKeys } from "../shared/api-keys";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";
import { post, uid } from "../test-support/worker-requests";

const track = (key: string, address?: string) =>
  post(
    "/v1/track",
    { event: "Key Probed", anonymousId: uid("anon") },
    { key, headers: address ? { "cf-connecting-ip": address } : {} },
  );

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

  it("answers an address that sent too many unknown keys 429 for keys this isolate does not know, sparing D1", async () => {
    const live = await seedWorkspace("probe-flood");
    const flooder = `198.51.100.${Math.floor(Math.random() * 250)}-${uid("ip")}`;
    const neighbour = `203.0.113.${Math.floor(Math.random() * 250)}-${uid("ip")}`;
    // The binding allows 100 unknown keys per 10 s per address (wrangler.toml); each is a D1 read and a 401.
    const hundred = await Promise.all(Array.from({ length: 100 }, () => track(`wk_${crypto.randomUUID()}`, flooder)));
    expect(hundred.map((r) => r.status)).toEqual(Array(100).fill(401));
    expect((await track(`wk_${crypto.randomUUID()}`, flooder)).status).toBe(401);
    const refused = await track(`wk_${crypto.randomUUID()}`, flooder);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("10");
    expect(await refused.json()).toMatchObject({ error: { code: "rate_limit_error" } });
    // A live key this isolate does not know is refused too (told to retry), and on the read API as well …
    forgetCachedKeys();
    expect((await track(live.writeKey, flooder)).status).toBe(429);
    const read = await api("/v1/audiences", bearer(live.secretKey), { headers: { "cf-connecting-ip": flooder } });
    expect(read.status).toBe(429);
    // … one it just looked up for another address still works; other addresses are not affected.
    expect((await track(live.writeKey, neighbour)).status).toBe(200);
    expect((await track(live.writeKey, flooder)).status).toBe(200);
    expect((await track(`wk_${crypto.randomUUID()}`, neighbour)).status).toBe(401);
  }, 30_000);
});
