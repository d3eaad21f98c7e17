import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { postWith } from "../test-support/collector-app";
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
    // Spend this key's whole window on the real binding; the collector must then refuse it and only it.
    // 5,000 per 10 s (wrangler.toml): spent 250 calls at a time, which keeps this test fast on a busy machine.
    let spent = 0;
    for (;;) {
      const answers = await Promise.all(
        Array.from({ length: 250 }, () => env.WRITE_KEY_RATE_LIMIT.limit({ key: other.writeKey })),
      );
      if (answers.some((a) => !a.success)) break;
      spent += answers.length;
      if (spent > 100_000) throw new Error("the binding never limited");
    }
    const limited = await postWith({}, "/v1/batch", body(uid("anon")), other.writeKey);
    expect(limited.status).toBe(429);
    const fresh = await postWith({}, "/v1/batch", body(uid("anon")), writeKey);
    expect(fresh.status).toBe(200);
  }, 60_000);
});
