import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { IMPORT_RETRY, type SendOptions, sendBatch } from "./send";

type Reply = Response | Error;

/** A fetch that answers from a script and records what it was sent. */
function scripted(replies: Reply[]) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const reply = replies[Math.min(calls.length - 1, replies.length - 1)];
    if (reply instanceof Error) throw reply;
    return reply.clone();
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

async function send(replies: Reply[], more: Partial<SendOptions> = {}) {
  const { calls, fetchImpl } = scripted(replies);
  const sleeps: number[] = [];
  const notices: string[] = [];
  const outcome = await sendBatch('{"batch":[{"type":"identify","userId":"u"}]}', {
    url: "http://collector.test/v1/batch",
    writeKey: "wk_test",
    fetch: fetchImpl,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    onRetry: (notice) => notices.push(`${notice.attempt}/${notice.maxAttempts} ${notice.reason}`),
    ...more,
  });
  return { outcome, calls, sleeps, notices };
}

describe("sendBatch", () => {
  it("posts gzipped JSON with the write key as Basic user", async () => {
    const { outcome, calls } = await send([json(200, { success: true, accepted: 1, rejected: [] })]);
    expect(outcome).toEqual({ kind: "stored", rejected: [], duplicates: 0 });
    const { url, init } = calls[0];
    const headers = init.headers as Record<string, string>;
    expect(url).toBe("http://collector.test/v1/batch");
    expect(init.method).toBe("POST");
    expect(headers.authorization).toBe(`Basic ${Buffer.from("wk_test:").toString("base64")}`);
    expect(headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(init.body as Buffer).toString()).toBe('{"batch":[{"type":"identify","userId":"u"}]}');
  });

  it("waits as long as Retry-After says on 429, then succeeds", async () => {
    const { outcome, sleeps, notices } = await send([
      json(429, { error: { code: "rate_limit_error", message: "slow down" } }, { "retry-after": "7" }),
      json(200, { success: true, accepted: 1, rejected: [] }),
    ]);
    expect(outcome.kind).toBe("stored");
    expect(sleeps).toEqual([7000]);
    expect(notices).toEqual(["1/10 429 rate_limit_error: slow down"]);
  });

  it("retries 5xx and network failures with growing, capped backoff", async () => {
    const { outcome, sleeps, calls } = await send([
      json(503, { error: { code: "internal_error", message: "later" } }),
      new TypeError("fetch failed", { cause: { code: "ECONNRESET" } }),
      json(200, { success: true, accepted: 1, rejected: [] }),
    ]);
    expect(outcome.kind).toBe("stored");
    expect(calls).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeLessThanOrEqual(IMPORT_RETRY.baseDelay);
    expect(sleeps[1]).toBeLessThanOrEqual(IMPORT_RETRY.baseDelay * 2);
  });

  it("gives up after the last attempt with the last reason", async () => {
    const { outcome, calls } = await send([new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })], {
      retry: { ...IMPORT_RETRY, maxAttempts: 3 },
    });
    expect(outcome).toEqual({ kind: "failed", error: "gave up after 3 attempts: network error (ECONNREFUSED)" });
    expect(calls).toHaveLength(3);
  });

  it("stops at once when the host cannot be reached before it ever answered, and retries once it has", async () => {
    const refused = new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
    const first = await send([refused], { host: { answered: false } });
    expect(first.outcome).toEqual({
      kind: "failed",
      error: "cannot reach http://collector.test: the connection was refused (is --host right, and Tessera running?)",
    });
    expect(first.calls).toHaveLength(1);
    const noSuchHost = await send([new TypeError("fetch failed", { cause: { code: "ENOTFOUND" } })], {
      host: { answered: false },
    });
    expect(noSuchHost.outcome).toMatchObject({ error: expect.stringContaining("no such host") });

    // The host answered earlier in the run: a refused connection now is a restart, worth waiting out.
    const host = { answered: false };
    await send([json(200, { success: true, accepted: 1, rejected: [] })], { host });
    expect(host.answered).toBe(true);
    const later = await send([refused, json(200, { success: true, accepted: 1, rejected: [] })], { host });
    expect(later.outcome.kind).toBe("stored");
    expect(later.calls).toHaveLength(2);
  });

  it("does not retry what retrying cannot fix", async () => {
    const unauthorised = await send([
      json(401, { error: { code: "authentication_error", message: "Unknown write key" } }),
    ]);
    expect(unauthorised.outcome).toEqual({
      kind: "failed",
      error: "401 authentication_error: Unknown write key",
      keyRefused: true,
    });
    expect(unauthorised.calls).toHaveLength(1);
    const refused = await send([
      json(400, { error: { code: "validation_error", message: "No message was accepted" } }),
    ]);
    expect(refused.outcome).toEqual({ kind: "refused", error: "400 validation_error: No message was accepted" });
    const tooLarge = await send([json(413, { error: { code: "payload_too_large", message: "too big" } })]);
    expect(tooLarge.outcome).toEqual({ kind: "too-large", error: "413 payload_too_large: too big" });
  });

  it("returns the per-message rejections of a 200", async () => {
    const rejected = [{ index: 0, messageId: "m", error: "batch[0]: track needs an event name" }];
    const { outcome } = await send([json(200, { success: true, accepted: 0, rejected })]);
    expect(outcome).toEqual({ kind: "stored", rejected, duplicates: 0 });
  });

  it("fails without retrying a 200 whose body is not the collector's answer (another server at that host)", async () => {
    const html = new Response("<!doctype html><title>Welcome to nginx!</title>", {
      status: 200,
      headers: { "content-type": "text/html" },
    });
    for (const reply of [html, json(200, { success: true }), json(200, { ok: true })]) {
      const { outcome, calls } = await send([reply]);
      expect(calls).toHaveLength(1);
      expect(outcome).toEqual({
        kind: "failed",
        error: expect.stringMatching(/^http:\/\/collector\.test answered 200 but not as a Tessera collector: /),
        notCollector: true,
      });
    }
    const { outcome } = await send([html]);
    expect(outcome.kind === "failed" && outcome.error).toContain("<title>Welcome to nginx!</title>");
  });

  it("returns how many accepted messages the collector already held under their messageId", async () => {
    const { outcome } = await send([json(200, { success: true, accepted: 2, duplicates: 1, rejected: [] })]);
    expect(outcome).toEqual({ kind: "stored", rejected: [], duplicates: 1 });
  });

  it("says when an earlier attempt ended without saying whether it was stored: cut off, timed out, 429 or 5xx", async () => {
    const held = json(200, { success: true, accepted: 1, duplicates: 1, rejected: [] });
    const busy = json(429, { error: { code: "rate_limit_error", message: "busy" } }, { "retry-after": "1" });
    const unclear = { kind: "stored", rejected: [], duplicates: 1, afterUnclearAttempt: true };
    expect((await send([busy, held])).outcome).toEqual(unclear);
    expect((await send([json(503, { error: { code: "internal_error", message: "later" } }), held])).outcome).toEqual(
      unclear,
    );
    const cut = new TypeError("fetch failed", { cause: { code: "ECONNRESET" } });
    expect((await send([cut, held])).outcome).toEqual(unclear);
    const timedOut = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    expect((await send([timedOut, held])).outcome).toEqual(unclear);
    // A refused connection never reached a collector (a restart, once the host has answered): nothing unclear.
    const refused = new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
    expect((await send([refused, held], { host: { answered: true } })).outcome).toEqual({
      kind: "stored",
      rejected: [],
      duplicates: 1,
    });
  });
});
