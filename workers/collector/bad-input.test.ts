import { env } from "cloudflare:workers";
import { afterAll, describe, expect, it } from "vitest";
import { seedWorkspace } from "../test-support/seed";
import { post, uid } from "../test-support/worker-requests";

const { workspaceId, writeKey, secretKey } = await seedWorkspace("bad-input");

interface BadCase {
  name: string;
  /** Builds the request for a fresh anonymous id `a`. */
  body?: (a: string) => unknown;
  raw?: (a: string) => BodyInit | Promise<BodyInit>;
  path?: string;
  headers?: Record<string, string>;
  key?: "write" | "secret" | "unknown" | "none";
  /** `"rejected"`: the request is read and answered 200, the message listed in `rejected` with the reason. */
  status: 400 | 401 | 413 | 415 | "rejected";
  reason: RegExp;
}

const track = (a: string, extra: Record<string, unknown> = {}) => ({
  type: "track",
  event: "E",
  anonymousId: a,
  ...extra,
});
const one = (message: unknown) => ({ batch: [message] });
const gzip = (text: string) =>
  new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
const nested = (depth: number): unknown => (depth === 0 ? "leaf" : { n: nested(depth - 1) });

const cases: BadCase[] = [
  // The request as a whole.
  { name: "invalid JSON", raw: (a) => `{"batch":[{"anonymousId":"${a}"`, status: 400, reason: /not valid JSON/ },
  { name: "an empty body", raw: () => "", status: 400, reason: /body is empty/ },
  {
    // Bytes that are not UTF-8 would become U+FFFD, merging ids that differ only there (issue 10, finding 6).
    name: "invalid UTF-8 in an id",
    raw: (a) =>
      new Uint8Array([
        ...new TextEncoder().encode(`{"batch":[{"type":"track","event":"E","anonymousId":"${a}-`),
        0xff,
        ...new TextEncoder().encode('"}]}'),
      ]),
    status: 400,
    reason: /not valid UTF-8/,
  },
  { name: "a whitespace body", raw: () => "   \n", status: 400, reason: /body is empty/ },
  { name: "a JSON array body", body: (a) => [track(a)], status: 400, reason: /must be a JSON object, got an array/ },
  { name: "a JSON string body", body: () => "track", status: 400, reason: /must be a JSON object, got a string/ },
  { name: "a JSON null body", raw: () => "null", status: 400, reason: /must be a JSON object, got null/ },
  {
    name: "a form-encoded body",
    raw: (a) => `type=track&anonymousId=${a}`,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    status: 400,
    reason: /not valid JSON/,
  },
  {
    name: "XML",
    raw: () => "<batch/>",
    headers: { "content-type": "application/xml" },
    status: 400,
    reason: /not valid JSON/,
  },
  { name: "no batch", body: (a) => ({ messages: [track(a)] }), status: 400, reason: /has no batch/ },
  {
    name: "batch as an object",
    body: (a) => ({ batch: track(a) }),
    status: 400,
    reason: /batch must be an array of messages, got an object/,
  },
  {
    name: "batch as a string",
    body: () => ({ batch: "[]" }),
    status: 400,
    reason: /batch must be an array of messages, got a string/,
  },
  {
    name: "batch null",
    body: () => ({ batch: null }),
    status: 400,
    reason: /batch must be an array of messages, got null/,
  },
  {
    name: "2,501 messages",
    body: (a) => ({ batch: Array.from({ length: 2501 }, () => ({ type: "page", anonymousId: a })) }),
    status: 413,
    reason: /2501 messages; the limit is 2500/,
  },
  {
    name: "a body over 500 KB",
    body: (a) => ({ batch: Array.from({ length: 40 }, () => track(a, { properties: { s: "x".repeat(14_000) } })) }),
    status: 413,
    reason: /512000-byte request limit/,
  },
  {
    name: "a streamed body over 500 KB without Content-Length",
    raw: (a) => new Blob([JSON.stringify({ batch: [track(a)], pad: "x".repeat(600_000) })]).stream(),
    status: 413,
    reason: /request limit/,
  },
  {
    name: "a gzip bomb",
    raw: (a) => gzip(`{"batch":[${JSON.stringify(track(a))}${" ".repeat(5_000_000)}]}`),
    headers: { "content-encoding": "gzip" },
    status: 413,
    reason: /decompressed body is larger than the 512000-byte/,
  },
  {
    name: "a corrupt gzip body",
    raw: () => new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]),
    headers: { "content-encoding": "gzip" },
    status: 400,
    reason: /could not be read as gzip/,
  },
  {
    name: "gzip that is not JSON",
    raw: () => gzip("hello"),
    headers: { "content-encoding": "gzip" },
    status: 400,
    reason: /not valid JSON/,
  },
  {
    name: "an unsupported Content-Encoding",
    body: (a) => one(track(a)),
    headers: { "content-encoding": "br" },
    status: 415,
    reason: /Content-Encoding "br" is not supported/,
  },
  {
    name: "a string batch context",
    body: (a) => ({ batch: [track(a)], context: "web" }),
    status: 400,
    reason: /batch's context must be an object, got a string/,
  },
  {
    name: "__proto__ in the batch context",
    raw: (a) => `{"batch":[${JSON.stringify(track(a))}],"context":{"__proto__":{"admin":true}}}`,
    status: 400,
    reason: /key "__proto__" is not allowed \(at context\)/,
  },
  {
    name: "array batch integrations",
    body: (a) => ({ batch: [track(a)], integrations: [] }),
    status: 400,
    reason: /integrations must be an object, got an array/,
  },
  {
    name: "an invalid batch sentAt",
    body: (a) => ({ batch: [track(a)], sentAt: "now" }),
    status: 400,
    reason: /sentAt must be an ISO-8601 timestamp, got "now"/,
  },
  {
    name: "a numeric body writeKey",
    body: (a) => ({ batch: [track(a)], writeKey: 5 }),
    key: "none",
    status: 400,
    reason: /writeKey must be a string, got a number/,
  },
  // Authentication.
  { name: "no write key", body: (a) => one(track(a)), key: "none", status: 401, reason: /Missing write key/ },
  {
    name: "an unknown write key",
    body: (a) => one(track(a)),
    key: "unknown",
    status: 401,
    reason: /^Invalid write key/,
  },
  {
    name: "a secret key used as write key",
    body: (a) => one(track(a)),
    key: "secret",
    status: 401,
    reason: /^Invalid write key/,
  },
  {
    name: "an unknown key in the body",
    body: (a) => ({ ...one(track(a)), writeKey: "wk_nope" }),
    key: "none",
    status: 401,
    reason: /^Invalid write key/,
  },
  {
    name: "a malformed Authorization header",
    body: (a) => one(track(a)),
    key: "none",
    headers: { authorization: "Digest abc" },
    status: 401,
    reason: /The Authorization header holds no write key/,
  },
  // Ids.
  {
    name: "no ids",
    body: () => one({ type: "track", event: "E" }),
    status: "rejected",
    reason: /userId or anonymousId is required/,
  },
  {
    name: "null ids",
    body: () => one({ type: "page", userId: null, anonymousId: null }),
    status: "rejected",
    reason: /userId or anonymousId is required/,
  },
  {
    name: "an object userId",
    body: (a) => one(track(a, { userId: { id: 1 } })),
    status: "rejected",
    reason: /userId must be a string or a number, got an object/,
  },
  {
    name: "a boolean anonymousId",
    body: () => one(track("", { anonymousId: true })),
    status: "rejected",
    reason: /anonymousId must be a string or a number, got a boolean/,
  },
  {
    name: "an array userId",
    body: (a) => one(track(a, { userId: [a] })),
    status: "rejected",
    reason: /userId must be a string or a number, got an array/,
  },
  {
    name: "an empty anonymousId",
    body: () => one(track("", { anonymousId: "" })),
    status: "rejected",
    reason: /anonymousId must not be empty/,
  },
  {
    name: 'a blocked userId "null"',
    body: () => one({ type: "identify", userId: "null" }),
    status: "rejected",
    reason: /user_id "null".*blocked/,
  },
  {
    name: 'a blocked anonymousId "undefined"',
    body: () => one({ type: "page", anonymousId: "undefined" }),
    status: "rejected",
    reason: /anonymous_id "undefined".*blocked/,
  },
  {
    name: "a blocked id of zeros",
    body: () => one({ type: "page", userId: "0000" }),
    status: "rejected",
    reason: /user_id "0000".*blocked/,
  },
  {
    name: "a control character in userId",
    body: (a) => one(track(a, { userId: "u\u0007" })),
    status: "rejected",
    reason: /userId contains a control character/,
  },
  {
    name: "a lone surrogate in anonymousId",
    raw: () => '{"batch":[{"type":"page","anonymousId":"x\\ud800"}]}',
    status: "rejected",
    reason: /broken surrogate/,
  },
  {
    name: "an overlong userId",
    body: (a) => one(track(a, { userId: "u".repeat(600) })),
    status: "rejected",
    reason: /userId is longer than 512/,
  },
  {
    name: "a numeric messageId",
    body: (a) => one(track(a, { messageId: 12 })),
    status: "rejected",
    reason: /messageId must be a string/,
  },
  // Types and required fields.
  {
    name: "an unknown type",
    body: (a) => one({ type: "purchase", anonymousId: a }),
    status: "rejected",
    reason: /unknown type "purchase"/,
  },
  {
    name: "a missing type in a batch",
    body: (a) => one({ anonymousId: a }),
    status: "rejected",
    reason: /type is required/,
  },
  {
    name: "a number as message",
    body: () => ({ batch: [42] }),
    status: "rejected",
    reason: /must be a JSON object, got a number/,
  },
  {
    name: "track without event",
    path: "/v1/track",
    body: (a) => ({ anonymousId: a }),
    status: "rejected",
    reason: /^track needs an event name/,
  },
  { name: "a numeric event", body: (a) => one(track(a, { event: 7 })), status: "rejected", reason: /got a number/ },
  {
    name: "an empty event",
    body: (a) => one(track(a, { event: "" })),
    status: "rejected",
    reason: /event must not be empty/,
  },
  {
    name: "a NUL in the event name",
    body: (a) => one(track(a, { event: "E\u0000" })),
    status: "rejected",
    reason: /event contains a control character/,
  },
  {
    name: "a huge event name",
    body: (a) => one(track(a, { event: "E".repeat(10_000) })),
    status: "rejected",
    reason: /event is longer than 512/,
  },
  {
    name: "alias without previousId",
    path: "/v1/alias",
    body: () => ({ userId: uid("u") }),
    status: "rejected",
    reason: /alias needs previousId/,
  },
  {
    name: "group without groupId",
    path: "/v1/group",
    body: (a) => ({ anonymousId: a }),
    status: "rejected",
    reason: /group needs groupId/,
  },
  {
    name: "Basic auth that is not base64",
    body: (a) => one(track(a)),
    headers: { authorization: "Basic !!!" },
    key: "none",
    status: 401,
    reason: /The Authorization header holds no write key/,
  },
  // Field types.
  {
    name: "string properties",
    body: (a) => one(track(a, { properties: "cheap" })),
    status: "rejected",
    reason: /properties must be an object, got a string/,
  },
  {
    name: "array traits",
    path: "/v1/identify",
    body: (a) => ({ anonymousId: a, traits: ["vip"] }),
    status: "rejected",
    reason: /traits must be an object, got an array/,
  },
  {
    name: "a numeric context",
    body: (a) => one(track(a, { context: 1 })),
    status: "rejected",
    reason: /context must be an object, got a number/,
  },
  {
    name: "string integrations",
    body: (a) => one(track(a, { integrations: "All" })),
    status: "rejected",
    reason: /integrations must be an object/,
  },
  {
    name: "a numeric page name",
    path: "/v1/page",
    body: (a) => ({ anonymousId: a, name: 3 }),
    status: "rejected",
    reason: /name must be a string, got a number/,
  },
  {
    name: "a string context.traits",
    body: (a) => one(track(a, { context: { traits: "x" } })),
    status: "rejected",
    reason: /context.traits must be an object/,
  },
  {
    name: "an object context.externalIds",
    body: (a) => one(track(a, { context: { externalIds: { id: "1" } } })),
    status: "rejected",
    reason: /context.externalIds must be an array/,
  },
  // Timestamps.
  {
    name: "a numeric timestamp",
    body: (a) => one(track(a, { timestamp: 1_700_000_000 })),
    status: "rejected",
    reason: /timestamp must be an ISO-8601 string, got a number/,
  },
  {
    name: "an unparsable timestamp",
    body: (a) => one(track(a, { timestamp: "last tuesday" })),
    status: "rejected",
    reason: /timestamp "last tuesday" is not an ISO-8601/,
  },
  {
    name: "an impossible date",
    body: (a) => one(track(a, { timestamp: "2024-02-31T25:00:00Z" })),
    status: "rejected",
    reason: /is not an ISO-8601/,
  },
  {
    name: "a far-future timestamp",
    body: (a) => one(track(a, { timestamp: new Date(Date.now() + 3 * 86_400_000).toISOString() })),
    status: "rejected",
    reason: /more than 24 hours in the future/,
  },
  {
    name: "an invalid originalTimestamp",
    body: (a) => one(track(a, { originalTimestamp: "0" })),
    status: "rejected",
    reason: /originalTimestamp "0" is not/,
  },
  {
    name: "an invalid message sentAt",
    body: (a) => one(track(a, { sentAt: {} })),
    status: "rejected",
    reason: /sentAt must be an ISO-8601 string, got an object/,
  },
  // Structure and size.
  {
    name: "__proto__ in properties",
    raw: (a) =>
      `{"batch":[{"type":"track","event":"E","anonymousId":"${a}","properties":{"__proto__":{"isAdmin":true}}}]}`,
    status: "rejected",
    reason: /key "__proto__" is not allowed \(at message.properties\)/,
  },
  {
    name: "deeply nested properties",
    body: (a) => one(track(a, { properties: nested(60) })),
    status: "rejected",
    reason: /nests deeper than 32 levels/,
  },
  {
    name: "a message over 32 KB",
    body: (a) => one(track(a, { properties: { text: "y".repeat(40_000) } })),
    status: "rejected",
    reason: /over the 32768-byte limit/,
  },
  {
    name: "a message over 32 KB of emoji",
    body: (a) => one(track(a, { properties: { text: "😀".repeat(9_000) } })),
    status: "rejected",
    reason: /over the 32768-byte limit/,
  },
];

async function send(c: BadCase, a: string): Promise<Response> {
  const keys = { write: writeKey, secret: secretKey, unknown: "wk_unknown", none: undefined };
  const key = keys[c.key ?? "write"];
  const raw = c.raw ? await c.raw(a) : undefined;
  return post(c.path ?? "/v1/batch", c.body?.(a), { key, raw, headers: c.headers });
}

async function rowsFor(table: "profiles" | "identifiers"): Promise<number> {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE workspace_id = ?`)
    .bind(workspaceId)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

describe("bad input", () => {
  it.each(cases.map((c) => [c.name, c] as const))("answers %s naming the problem", async (_name, c) => {
    const res = await send(c, uid("anon"));
    if (c.status === "rejected") {
      // A readable request whose one message is invalid: 200, nothing accepted, the message's reason listed.
      const body = (await res.json()) as { accepted: number; rejected: Array<{ index: number; error: string }> };
      expect(res.status).toBe(200);
      expect(body.accepted).toBe(0);
      expect(body.rejected).toHaveLength(1);
      expect(body.rejected[0].index).toBe(0);
      expect(body.rejected[0].error).toMatch(c.reason);
    } else {
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status).toBe(c.status);
      const code = {
        400: "validation_error",
        401: "authentication_error",
        413: "payload_too_large",
        415: "validation_error",
      }[c.status];
      expect(body.error.code).toBe(code);
      expect(body.error.message).toMatch(c.reason);
    }
    // Nothing from a rejected request reaches the identity graph (and so no profile either).
    expect(await rowsFor("profiles")).toBe(0);
    expect(await rowsFor("identifiers")).toBe(0);
  });

  afterAll(async () => {
    expect(await rowsFor("profiles")).toBe(0);
  });
});
