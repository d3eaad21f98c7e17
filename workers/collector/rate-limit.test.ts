import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { collectorApp, postTo, postWith } from "../test-support/collector-app";
import { seedWorkspace } from "../test-support/seed";
import { storedEvents, uid } from "../test-support/worker-requests";

const { workspaceId, writeKey } = await seedWorkspace("rate-limit");
const body = (a: string) => ({ batch: [{ type: "track", event: "Limited", anonymousId: a }] });

describe("rate limit per write key", () => {
  it("answers 429 with Retry-After and stores nothing when the key is over its limit", async () => {
    const a = uid("anon");
    const keys: string[] = [];
    const limiterFor = () => ({
      limit: async ({ key }: { key: string }) => {
        keys.push(key);
        return { success: false };
      },
    });
    const res = await postWith({ limiterFor }, "/v1/batch", body(a), writeKey);
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("10");
    expect(await res.json()).toEqual({
      error: { code: "rate_limit_error", message: expect.stringMatching(/Too many requests/) },
    });
    expect(keys).toEqual([writeKey]);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: a })).toEqual([]);
  });

  it("lets the request through when the key is under its limit", async () => {
    const a = uid("anon");
    const res = await postWith(
      { limiterFor: () => ({ limit: async () => ({ success: true }) }) },
      "/v1/batch",
      body(a),
      writeKey,
    );
    expect(res.status).toBe(200);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: a })).toHaveLength(1);
  });

  it("lets traffic through when the limiter itself fails (approximate abuse control must not lose events)", async () => {
    const a = uid("anon");
    const limiterFor = () => ({
      limit: async (): Promise<RateLimitOutcome> => {
        throw new Error("binding down");
      },
    });
    const res = await postWith({ limiterFor }, "/v1/batch", body(a), writeKey);
    expect(res.status).toBe(200);
  });

  it("uses the WRITE_KEY_RATE_LIMIT binding by default, keyed by write key", async () => {
    const other = await seedWorkspace("rate-limit-default");
    // The real binding, asked with a limit of 20 per window instead of wrangler.toml's 5,000: spending 5,000 calls
    // inside one 10 s window depends on the machine's speed (a busy one never gets there).
    const binding = env.WRITE_KEY_RATE_LIMIT;
    const small = { limit: (options: { key: string }) => binding.limit({ ...options, limit: 20 } as { key: string }) };
    const app = collectorApp({});
    const post = (key: string) =>
      postTo(app, "/v1/batch", body(uid("anon")), key, { bindings: { WRITE_KEY_RATE_LIMIT: small } });
    // The window can turn over between spending it and asking; a collector that answers 200 every time fails.
    for (let attempt = 1; attempt <= 5; attempt++) {
      for (let i = 0; i < 20; i++) await small.limit({ key: other.writeKey });
      const limited = await post(other.writeKey);
      if (limited.status === 429) {
        expect((await post(writeKey)).status).toBe(200);
        return;
      }
      expect(limited.status).toBe(200);
    }
    throw new Error("the collector never refused a key whose window the binding had spent");
  }, 60_000);
});
