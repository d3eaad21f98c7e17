/**
 * A generated corpus of malformed ingestion requests (issue 10, "Done when"): well over a thousand of them, each sent
 * through the production Worker's fetch handler, each answered with a 4xx whose error envelope says what is wrong
 * (or, for a readable request whose message is damaged, 200 with that message rejected and the reason),
 * and none leaving anything behind in the workspace. Built from a few valid requests by systematic damage: every
 * truncation of a body, wrong types in every field, bad dates, text that is not Unicode (as bytes and as JSON
 * escapes), prototype keys and nesting in every object, sizes past each limit, and broken credentials.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import {
  MAX_BATCH_MESSAGES,
  MAX_EVENT_NAME_LENGTH,
  MAX_EXTERNAL_IDS,
  MAX_IDENTIFIER_LENGTH,
  MAX_MESSAGE_BYTES,
  MAX_PROPERTY_DEPTH,
  MAX_REQUEST_BYTES,
} from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import worker from "../index";
import { basicAuth, seedWorkspace } from "../test-support/seed";

const { workspaceId, writeKey, secretKey } = await seedWorkspace("malformed-corpus");

interface Case {
  name: string;
  path: string;
  /** The body: JSON text or raw bytes. */
  body: string | Uint8Array;
  /** Write key as Basic user (default: the workspace's); null sends no key. */
  key?: string | null;
  headers?: Record<string, string>;
  /**
   * The request's answer; `"rejected"`: a readable request whose one message is invalid, answered 200 with nothing
   * accepted and the message listed in `rejected` (DESIGN §3).
   */
  status: 400 | 401 | 413 | 415 | "rejected";
  /** What the error message (or the rejected message's reason) must say. */
  reason: RegExp;
}

const CODES = {
  400: "validation_error",
  401: "authentication_error",
  413: "payload_too_large",
  415: "validation_error",
};
const encoder = new TextEncoder();
let counter = 0;
/** A fresh anonymous id per case: whatever a case stored would show up under its own id. */
const anon = () => `corpus-${++counter}`;

type Json = Record<string, unknown>;
const SAMPLES: Record<string, () => Json> = {
  track: () => ({ type: "track", event: "Order Completed", anonymousId: anon(), properties: { total: 12.5 } }),
  identify: () => ({ type: "identify", anonymousId: anon(), traits: { plan: "pro" } }),
  page: () => ({ type: "page", anonymousId: anon(), name: "Home" }),
  screen: () => ({ type: "screen", anonymousId: anon(), name: "Home" }),
  group: () => ({ type: "group", anonymousId: anon(), groupId: "g-1" }),
  alias: () => ({ type: "alias", userId: `u-${anon()}`, previousId: anon() }),
};
const TYPES = Object.keys(SAMPLES);

const cases: Case[] = [];
let messageCases = 0;
/**
 * A message-level case, sent in turn in a batch and alone to its type's endpoint (`/v1/track`, …), so both ways in
 * see every kind of damage.
 */
function addMessage(name: string, message: Json, reason: RegExp): void {
  const type = typeof message.type === "string" && TYPES.includes(message.type) ? message.type : null;
  if (type && messageCases++ % 2 === 1) {
    cases.push({
      name: `${name} (/v1/${type})`,
      path: `/v1/${type}`,
      body: JSON.stringify(message),
      status: "rejected",
      reason,
    });
  } else {
    cases.push({
      name: `${name} (batch)`,
      path: "/v1/batch",
      body: JSON.stringify({ batch: [message] }),
      status: "rejected",
      reason,
    });
  }
}
/** `message` with `value` set at the dotted `path`. */
function withValue(message: Json, path: string, value: unknown): Json {
  const copy = structuredClone(message);
  const parts = path.split(".");
  let node: Json = copy;
  for (const part of parts.slice(0, -1)) {
    node[part] = typeof node[part] === "object" && node[part] !== null ? node[part] : {};
    node = node[part] as Json;
  }
  node[parts[parts.length - 1]] = value;
  return copy;
}
const describeValue = (v: unknown) => JSON.stringify(v)?.slice(0, 40) ?? String(v);

// 1. Every truncation of valid bodies: never JSON.
for (const type of TYPES) {
  const text = JSON.stringify({ batch: [SAMPLES[type]()] });
  for (let n = 0; n < text.length; n++) {
    cases.push({
      name: `${type} body cut at ${n}`,
      path: "/v1/batch",
      body: text.slice(0, n),
      status: 400,
      reason: n === 0 ? /body is empty/ : /not valid JSON/,
    });
  }
}

// 2. Valid JSON followed by junk, and JSON-like things that are not JSON.
for (const junk of ["x", ",", "}", "]", "{}", " 1", '"', "\u0000", "/*c*/", "NaN"]) {
  cases.push({
    name: `trailing ${describeValue(junk)}`,
    path: "/v1/batch",
    body: JSON.stringify({ batch: [SAMPLES.track()] }) + junk,
    status: 400,
    reason: /not valid JSON/,
  });
}
for (const text of ["{batch:[]}", "{'batch':[]}", '{"batch":[,]}', '{"batch":[1,]}', '{"batch":NaN}', "undefined"]) {
  cases.push({ name: `not JSON: ${text}`, path: "/v1/batch", body: text, status: 400, reason: /not valid JSON/ });
}

// 3. Bodies and batches of the wrong shape.
for (const body of [1, "batch", true, null, [], [SAMPLES.track()], 1.5]) {
  cases.push({
    name: `body ${describeValue(body)}`,
    path: "/v1/batch",
    body: JSON.stringify(body),
    status: 400,
    reason: /must be a JSON object/,
  });
}
for (const batch of [1, "[]", true, null, {}, { 0: SAMPLES.track() }]) {
  cases.push({
    name: `batch ${describeValue(batch)}`,
    path: "/v1/batch",
    body: JSON.stringify({ batch }),
    status: 400,
    reason: /batch must be an array/,
  });
}
for (const message of [1, "track", true, null, [], [SAMPLES.track()]]) {
  cases.push({
    name: `message ${describeValue(message)}`,
    path: "/v1/batch",
    body: JSON.stringify({ batch: [message] }),
    status: "rejected",
    reason: /must be a JSON object/,
  });
}

// 4. Wrong types in every field of every message type.
const NOT_TEXT = [true, false, {}, { id: 1 }, [], ["a"]];
const NOT_OBJECT = ["text", 1, true, [], [1]];
const FIELD_BAD_VALUES: Array<[string, unknown[], RegExp]> = [
  ["type", [1, true, {}, [], "", "purchase", "TRACK "], /type/],
  ["messageId", [12, true, {}, [], ["m"]], /messageId/],
  ["properties", NOT_OBJECT, /properties must be an object/],
  ["traits", NOT_OBJECT, /traits must be an object/],
  ["context", NOT_OBJECT, /context must be an object/],
  ["integrations", NOT_OBJECT, /integrations must be an object/],
  ["context.traits", NOT_OBJECT, /context\.traits must be an object/],
  ["context.externalIds", ["x", 1, true, {}, { id: "1" }], /context\.externalIds must be an array/],
];
for (const type of TYPES) {
  const idField = type === "alias" ? "userId" : "anonymousId";
  for (const value of NOT_TEXT) {
    addMessage(
      `${type} ${idField} ${describeValue(value)}`,
      withValue(SAMPLES[type](), idField, value),
      new RegExp(idField),
    );
  }
  for (const [field, values, reason] of FIELD_BAD_VALUES) {
    for (const value of values) {
      addMessage(`${type} ${field} ${describeValue(value)}`, withValue(SAMPLES[type](), field, value), reason);
    }
  }
}
for (const value of [7, true, {}, [], "", null]) {
  addMessage(`track event ${describeValue(value)}`, withValue(SAMPLES.track(), "event", value), /event/);
}
for (const [type, field] of [
  ["group", "groupId"],
  ["alias", "previousId"],
  ["page", "name"],
  ["screen", "name"],
] as const) {
  for (const value of type === "page" || type === "screen" ? [3, true, {}, []] : [true, {}, [], ""]) {
    addMessage(`${type} ${field} ${describeValue(value)}`, withValue(SAMPLES[type](), field, value), new RegExp(field));
  }
}

// 5. Required fields missing.
for (const type of TYPES) {
  const message = SAMPLES[type]();
  delete message.anonymousId;
  delete message.userId;
  addMessage(`${type} without ids`, message, type === "alias" ? /alias needs previousId|userId/ : /required/);
}
for (const [type, field, reason] of [
  ["track", "event", /event/],
  ["group", "groupId", /groupId/],
  ["alias", "previousId", /previousId/],
] as const) {
  const message = SAMPLES[type]();
  delete message[field];
  addMessage(`${type} without ${field}`, message, reason);
}

// 6. Dates that are not dates, in every timestamp field.
const BAD_DATES: unknown[] = [
  "2024-02-30",
  "2023-02-29",
  "2024-13-01",
  "2024-00-10",
  "2024-04-31T00:00:00Z",
  "2024-01-01T25:00:00Z",
  "2024-01-01T00:60:00Z",
  "2024-01-01T00:00:61Z",
  "2024-1-1",
  "01/02/2024",
  "yesterday",
  "",
  "0",
  "2024-01-01T00:00:00+25:00",
  1_700_000_000_000,
  true,
  {},
  [],
];
for (const field of ["timestamp", "originalTimestamp", "sentAt"]) {
  for (const value of BAD_DATES) {
    addMessage(`track ${field} ${describeValue(value)}`, withValue(SAMPLES.track(), field, value), new RegExp(field));
  }
}
for (const value of BAD_DATES) {
  cases.push({
    name: `batch sentAt ${describeValue(value)}`,
    path: "/v1/batch",
    body: JSON.stringify({ batch: [SAMPLES.track()], sentAt: value }),
    status: 400,
    reason: /sentAt/,
  });
}
addMessage(
  "a timestamp three days ahead",
  withValue(SAMPLES.track(), "timestamp", new Date(Date.now() + 3 * 86_400_000).toISOString()),
  /future/,
);

// 7. Text that is not Unicode: lone surrogates as JSON escapes, in identifiers and everywhere else.
const SURROGATES = ["\\ud800", "\\udfff", "x\\ud800", "\\ud800x", "\\udc00\\ud800", "a\\udbff"];
const SURROGATE_SPOTS: Array<[string, (s: string) => string]> = [
  ["anonymousId", (s) => `{"type":"track","event":"E","anonymousId":"${s}"}`],
  ["userId", (s) => `{"type":"track","event":"E","anonymousId":"${anon()}","userId":"${s}"}`],
  ["event", (s) => `{"type":"track","event":"${s}","anonymousId":"${anon()}"}`],
  ["messageId", (s) => `{"type":"track","event":"E","anonymousId":"${anon()}","messageId":"${s}"}`],
  ["traits.email", (s) => `{"type":"identify","anonymousId":"${anon()}","traits":{"email":"${s}@x.io"}}`],
  ["context.device.id", (s) => `{"type":"page","anonymousId":"${anon()}","context":{"device":{"id":"${s}"}}}`],
  [
    "context.externalIds",
    (s) => `{"type":"page","anonymousId":"${anon()}","context":{"externalIds":[{"id":"${s}","type":"crm"}]}}`,
  ],
  ["a property value", (s) => `{"type":"track","event":"E","anonymousId":"${anon()}","properties":{"p":"${s}"}}`],
  ["a property key", (s) => `{"type":"track","event":"E","anonymousId":"${anon()}","properties":{"${s}":1}}`],
  ["alias previousId", (s) => `{"type":"alias","userId":"u-${anon()}","previousId":"${s}"}`],
];
for (const [spot, build] of SURROGATE_SPOTS) {
  for (const s of SURROGATES) {
    cases.push({
      name: `lone surrogate ${s} in ${spot}`,
      path: "/v1/batch",
      body: `{"batch":[${build(s)}]}`,
      status: "rejected",
      reason: /surrogate|not valid (Unicode|UTF)|well-formed/i,
    });
  }
}

// 8. Bytes that are not UTF-8, at every kind of place in the body.
const BAD_BYTES = [
  [0x80],
  [0xbf],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xc3],
  [0xc3, 0x28],
  [0xe0, 0x80, 0x80],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xf0, 0x9f, 0x98],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff],
];
const BYTE_SPOTS: Array<[string, string, string]> = [
  ["anonymousId", '{"batch":[{"type":"page","anonymousId":"a-', '"}]}'],
  ["event", '{"batch":[{"type":"track","anonymousId":"a","event":"E', '"}]}'],
  ["a property", '{"batch":[{"type":"track","anonymousId":"a","event":"E","properties":{"p":"', '"}}]}'],
  ["a key", '{"batch":[{"type":"track","anonymousId":"a","event":"E","properties":{"', '":1}}]}'],
  ["whitespace", '{"batch":', '[{"type":"page","anonymousId":"a"}]}'],
];
for (const [spot, before, after] of BYTE_SPOTS) {
  for (const bytes of BAD_BYTES) {
    const hex = bytes.map((b) => b.toString(16)).join(" ");
    cases.push({
      name: `bytes ${hex} in ${spot}`,
      path: "/v1/batch",
      body: new Uint8Array([...encoder.encode(before), ...bytes, ...encoder.encode(after)]),
      status: 400,
      reason: /not valid UTF-8/,
    });
  }
}

// 9. Keys that reach a prototype, in every object of a message and of the envelope.
const KEY_SPOTS: Array<[string, (key: string) => string]> = [
  ["the message", (k) => `{"type":"track","event":"E","anonymousId":"${anon()}","${k}":{"x":1}}`],
  ["properties", (k) => `{"type":"track","event":"E","anonymousId":"${anon()}","properties":{"${k}":{"x":1}}}`],
  [
    "nested properties",
    (k) => `{"type":"track","event":"E","anonymousId":"${anon()}","properties":{"a":{"b":{"${k}":1}}}}`,
  ],
  [
    "properties in an array",
    (k) => `{"type":"track","event":"E","anonymousId":"${anon()}","properties":{"a":[{"${k}":1}]}}`,
  ],
  ["traits", (k) => `{"type":"identify","anonymousId":"${anon()}","traits":{"${k}":{"admin":true}}}`],
  ["context", (k) => `{"type":"page","anonymousId":"${anon()}","context":{"${k}":{"x":1}}}`],
  ["context.traits", (k) => `{"type":"page","anonymousId":"${anon()}","context":{"traits":{"${k}":{"x":1}}}}`],
  ["integrations", (k) => `{"type":"page","anonymousId":"${anon()}","integrations":{"${k}":{"x":1}}}`],
];
for (const key of ["__proto__"]) {
  for (const [spot, build] of KEY_SPOTS) {
    cases.push({
      name: `${key} in ${spot}`,
      path: "/v1/batch",
      body: `{"batch":[${build(key)}]}`,
      status: "rejected",
      reason: new RegExp(`key "${key}" is not allowed`),
    });
  }
  for (const field of ["context", "integrations"]) {
    cases.push({
      name: `${key} in the batch ${field}`,
      path: "/v1/batch",
      body: `{"batch":[${JSON.stringify(SAMPLES.page())}],"${field}":{"${key}":{"x":1}}}`,
      status: 400,
      reason: new RegExp(`key "${key}" is not allowed`),
    });
  }
}

// 10. Nesting past the limit, of objects and of arrays, in each object field.
const nestObjects = (depth: number): unknown => (depth === 0 ? 1 : { n: nestObjects(depth - 1) });
const nestArrays = (depth: number): unknown => (depth === 0 ? 1 : [nestArrays(depth - 1)]);
for (const field of ["properties", "traits", "context"]) {
  for (const depth of [MAX_PROPERTY_DEPTH + 1, MAX_PROPERTY_DEPTH * 2, 500, 5_000]) {
    for (const [kind, nest] of [
      ["objects", nestObjects],
      ["arrays", nestArrays],
    ] as const) {
      cases.push({
        name: `${field} nested ${depth} ${kind} deep`,
        path: "/v1/batch",
        body: JSON.stringify({ batch: [withValue(SAMPLES.identify(), `${field}.deep`, nest(depth))] }),
        status: "rejected",
        reason: /nest|deep|depth/i,
      });
    }
  }
}

// 11. Sizes past each limit.
for (const field of ["properties", "traits", "context"]) {
  for (const size of [MAX_MESSAGE_BYTES + 100, 2 * MAX_MESSAGE_BYTES, 100_000]) {
    addMessage(
      `${field} of ${size} bytes`,
      withValue(SAMPLES.identify(), `${field}.pad`, "x".repeat(size)),
      /larger than|limit|too large|bytes/i,
    );
  }
}
for (const [field, length, reason] of [
  ["anonymousId", MAX_IDENTIFIER_LENGTH + 1, /anonymousId is longer/],
  ["userId", MAX_IDENTIFIER_LENGTH * 4, /userId is longer/],
  ["event", MAX_EVENT_NAME_LENGTH + 1, /event is longer/],
] as const) {
  addMessage(`${field} of ${length} characters`, withValue(SAMPLES.track(), field, "a".repeat(length)), reason);
}
addMessage(
  `${MAX_EXTERNAL_IDS + 1} externalIds`,
  withValue(
    SAMPLES.page(),
    "context.externalIds",
    Array.from({ length: MAX_EXTERNAL_IDS + 1 }, (_, i) => ({ id: `x-${i}`, type: "crm" })),
  ),
  /externalIds/,
);
for (const extra of [1, 100]) {
  const n = MAX_BATCH_MESSAGES + extra;
  cases.push({
    name: `${n} messages`,
    path: "/v1/batch",
    body: JSON.stringify({ batch: Array.from({ length: n }, () => ({ type: "page", anonymousId: "many" })) }),
    status: 413,
    reason: new RegExp(`${n} messages; the limit is ${MAX_BATCH_MESSAGES}`),
  });
}
for (const size of [MAX_REQUEST_BYTES + 1, MAX_REQUEST_BYTES * 2, 3_000_000]) {
  cases.push({
    name: `a request of ${size} bytes`,
    path: "/v1/batch",
    body: `{"batch":[${JSON.stringify(SAMPLES.track())}],"pad":"${"x".repeat(size)}"}`,
    status: 413,
    reason: /request limit/,
  });
}

// 12. Encodings the collector does not speak, and gzip that is not gzip.
for (const encoding of ["br", "compress", "zstd", "x-unknown", "gzip, br"]) {
  cases.push({
    name: `Content-Encoding ${encoding}`,
    path: "/v1/batch",
    body: JSON.stringify({ batch: [SAMPLES.track()] }),
    headers: { "content-encoding": encoding },
    status: 415,
    reason: /is not supported/,
  });
}
for (const [name, bytes] of [
  ["plain JSON labelled gzip", encoder.encode(JSON.stringify({ batch: [SAMPLES.track()] }))],
  ["a gzip header alone", new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])],
  ["a corrupt gzip body", new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7])],
] as const) {
  for (const encoding of ["gzip", "x-gzip", "deflate"]) {
    cases.push({
      name: `${name} as ${encoding}`,
      path: "/v1/batch",
      body: bytes,
      headers: { "content-encoding": encoding },
      status: 400,
      reason: /could not be read as/,
    });
  }
}

// 13. Credentials: missing, unknown, the wrong kind, malformed — on every ingestion path.
const PATHS = ["/v1/batch", "/v1/b", ...TYPES.flatMap((t) => [`/v1/${t}`, `/v1/${t[0]}`])];
for (const path of PATHS) {
  const type = TYPES.find((t) => path === `/v1/${t}` || path === `/v1/${t[0]}`);
  const body = JSON.stringify(type ? SAMPLES[type]() : { batch: [SAMPLES.track()] });
  const auth: Array<[string, Partial<Case>, RegExp]> = [
    ["no key", { key: null }, /Missing write key/],
    ["an unknown key", { key: "wk_nope" }, /Invalid write key/],
    ["the secret key", { key: secretKey }, /Invalid write key/],
    ["an empty Basic user", { key: null, headers: { authorization: `Basic ${btoa(":")}` } }, /holds no write key/],
    ["Basic that is not base64", { key: null, headers: { authorization: "Basic !!!" } }, /holds no write key/],
    ["a Digest header", { key: null, headers: { authorization: "Digest abc" } }, /holds no write key/],
  ];
  for (const [name, options, reason] of auth) {
    cases.push({ name: `${name} on ${path}`, path, body, status: 401, reason, ...options });
  }
}
for (const writeKeyValue of [5, true, {}, [], ""]) {
  cases.push({
    name: `body writeKey ${describeValue(writeKeyValue)}`,
    path: "/v1/batch",
    body: JSON.stringify({ batch: [SAMPLES.track()], writeKey: writeKeyValue }),
    key: null,
    status: writeKeyValue === "" ? 401 : 400,
    reason: writeKeyValue === "" ? /Missing write key|Invalid/ : /writeKey must be a string/,
  });
}

/**
 * The work each case's request left to run after its answer (`waitUntil`), awaited once all were sent: the live feed
 * gathers a request's messages for 250 ms before handing them over, which, awaited case by case, was most of this
 * file's two minutes.
 */
const afterAnswers: Promise<void>[] = [];

/** Sends one case through the Worker; what does not match, as a line to read. */
async function check(c: Case): Promise<string | null> {
  const key = c.key === undefined ? writeKey : c.key;
  const headers: Record<string, string> = { "content-type": "application/json", ...c.headers };
  if (key) headers.authorization = basicAuth(key);
  const request = new Request(`https://collect.test${c.path}`, { method: "POST", headers, body: c.body });
  // The Worker's own fetch handler, as the runtime calls it. (Through the pool's `exports.default.fetch` every
  // request got slower than the last: ~6 ms at first, ~100 ms after 600 — the pool's prototype proxies, one more per
  // object created, since patched: patches/@cloudflare+vitest-pool-workers+0.23.0.patch.)
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, env, ctx);
  afterAnswers.push(waitOnExecutionContext(ctx));
  const text = await res.text();
  let body: {
    error?: { code?: string; message?: string };
    accepted?: number;
    rejected?: Array<{ index: number; error: string }>;
  } = {};
  try {
    body = JSON.parse(text);
  } catch {}
  if (c.status === "rejected") {
    const [only, ...more] = body.rejected ?? [];
    if (
      res.status === 200 &&
      body.accepted === 0 &&
      more.length === 0 &&
      only?.index === 0 &&
      c.reason.test(only.error)
    )
      return null;
  } else {
    const message = body.error?.message ?? "";
    if (res.status === c.status && body.error?.code === CODES[c.status] && c.reason.test(message)) return null;
  }
  return `${c.name}: expected ${c.status} ${c.reason}, got ${res.status} ${text.slice(0, 200)}`;
}

describe("a generated corpus of malformed requests", () => {
  it(`has more than a thousand cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(1000);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it("answers every one with a 4xx and a reason, or each bad message rejected with one; never a 5xx", async () => {
    const mismatches: string[] = [];
    // One at a time: concurrent requests only queue behind each other in the test's one isolate.
    for (const c of cases) {
      // A request left unanswered is a finding too, named rather than waited for.
      let timer: ReturnType<typeof setTimeout> | null = null;
      const unanswered = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`${c.name}: no answer within 10 s`), 10_000);
      });
      const mismatch = await Promise.race([check(c), unanswered]);
      clearTimeout(timer);
      if (mismatch) mismatches.push(mismatch);
    }
    await Promise.all(afterAnswers);
    expect(mismatches).toEqual([]);
    // A generous deadline for a busy machine: over a thousand requests, not a speed target.
  }, 240_000);

  it("stored nothing from any of them", async () => {
    for (const table of ["profiles", "identifiers", "merges", "dropped_links"]) {
      const n = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE workspace_id = ?`)
        .bind(workspaceId)
        .first("n");
      expect(n, table).toBe(0);
    }
  });
});
