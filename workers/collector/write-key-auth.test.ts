import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { forgetCachedKeys } from "../shared/api-keys";
import { collectorApp, postTo } from "../test-support/collector-app";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";
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

  it("takes the body's write key beside a Bearer token, as Segment's OAuth sources send them", async () => {
    const { writeKey } = await seedWorkspace("oauth-source");
    const batch = [{ type: "track", event: "E", anonymousId: uid("a") }];
    const oauth = { headers: { authorization: "Bearer eyJhbGciOiJSUzI1NiJ9.an-access-token" } };
    const res = await post("/v1/batch", { writeKey, batch }, oauth);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { accepted: number }).accepted).toBe(1);
    // A Bearer write key alone still authenticates, and a token without a body key is still refused.
    expect((await post("/v1/batch", { batch }, { headers: { authorization: `Bearer ${writeKey}` } })).status).toBe(200);
    expect((await post("/v1/batch", { batch }, oauth)).status).toBe(401);
  });

  it("answers an address that sent too many unknown keys 429 for keys this isolate does not know, sparing D1", async () => {
    const live = await seedWorkspace("probe-flood");
    // The real binding, asked with a limit of 5 unknown keys per window instead of wrangler.toml's 100: its windows
    // are 10 s aligned to the clock, and a busy machine spends 100 requests across one's end.
    const binding = env.UNKNOWN_KEY_RATE_LIMIT;
    const small = { limit: (options: { key: string }) => binding.limit({ ...options, limit: 5 } as { key: string }) };
    const app = collectorApp({});
    const send = (key: string, address: string) =>
      postTo(app, "/v1/batch", { batch: [{ type: "track", event: "E", anonymousId: uid("a") }] }, key, {
        headers: { "cf-connecting-ip": address },
        bindings: { UNKNOWN_KEY_RATE_LIMIT: small },
      });
    const madeUp = () => `wk_${crypto.randomUUID()}`;
    // The window can turn over between the sixth unknown key and the next: each attempt uses an address of its own.
    for (let attempt = 1; attempt <= 5; attempt++) {
      const flooder = uid("198.51.100.7");
      const answers: number[] = [];
      for (let i = 0; i < 6; i++) answers.push((await send(madeUp(), flooder)).status);
      expect(answers).toEqual(Array(6).fill(401));
      const refused = await send(madeUp(), flooder);
      if (refused.status === 401) continue;
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("10");
      expect(await refused.json()).toMatchObject({ error: { code: "rate_limit_error" } });
      // A live key this isolate does not know is refused too (told to retry), and on the read API as well …
      forgetCachedKeys();
      expect((await send(live.writeKey, flooder)).status).toBe(429);
      const read = await api("/v1/audiences", bearer(live.secretKey), { headers: { "cf-connecting-ip": flooder } });
      expect(read.status).toBe(429);
      // … one it just looked up for another address still works; other addresses are not affected.
      const neighbour = uid("203.0.113.9");
      expect((await send(live.writeKey, neighbour)).status).toBe(200);
      expect((await send(live.writeKey, flooder)).status).toBe(200);
      expect((await send(madeUp(), neighbour)).status).toBe(401);
      return;
    }
    throw new Error("an address past its unknown keys was never refused");
  }, 60_000);
});
