import { describe, expect, it } from "vitest";
import { MAX_MESSAGE_BYTES, MAX_PROPERTY_DEPTH } from "./limits";
import { inspectTree, parseIsoTimestamp, storedEventTime, validateMessage } from "./validate";

const NOW = Date.parse("2025-06-01T12:00:00.000Z");
const ok = (raw: unknown) => validateMessage(raw, 0, { now: NOW });
const track = (extra: Record<string, unknown> = {}) => ({
  type: "track",
  event: "Signed Up",
  anonymousId: "a1",
  ...extra,
});
const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });

describe("validateMessage", () => {
  it("accepts every call type of the Segment Spec", () => {
    const messages = [
      track(),
      { type: "identify", userId: "u1", traits: { email: "a@b.c" } },
      { type: "page", anonymousId: "a1", name: "Home", properties: { path: "/" } },
      { type: "screen", anonymousId: "a1", name: "Home" },
      { type: "group", userId: "u1", groupId: "g1", traits: { plan: "pro" } },
      { type: "alias", userId: "u1", previousId: "a1" },
    ];
    for (const m of messages) expect(ok(m)).toMatchObject({ ok: true, message: m });
  });

  it("coerces numeric ids to strings and drops null optional fields", () => {
    const r = ok({ type: "group", userId: 42, groupId: 7, anonymousId: null, properties: null, name: null });
    expect(r).toEqual({ ok: true, message: { type: "group", userId: "42", groupId: "7" } });
  });

  it("treats an empty userId as absent when the anonymousId is there (RudderStack before identify)", () => {
    expect(ok(track({ userId: "" }))).toEqual({ ok: true, message: track() });
  });

  it("never keeps the writeKey in the stored message", () => {
    const r = ok(track({ writeKey: "wk_secret" }));
    expect(r.ok && "writeKey" in r.message).toBe(false);
  });

  it("does not modify its input", () => {
    const raw: Record<string, unknown> = track({ userId: 5 });
    ok(raw);
    expect(raw.userId).toBe(5);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ["a non-object message", "hello", /must be a JSON object, got a string/],
    ["an array message", [], /must be a JSON object, got an array/],
    ["null message", null, /got null/],
    ["missing type", { anonymousId: "a" }, /type is required/],
    ["numeric type", { type: 1, anonymousId: "a" }, /type is required/],
    ["unknown type", { type: "purchase", anonymousId: "a" }, /unknown type "purchase"/],
    ["no ids", { type: "page" }, /userId or anonymousId is required/],
    ["null ids", { type: "page", userId: null, anonymousId: null }, /userId or anonymousId is required/],
    ["object userId", track({ userId: { id: 1 } }), /userId must be a string or a number, got an object/],
    ["boolean anonymousId", track({ anonymousId: true }), /anonymousId must be a string or a number, got a boolean/],
    ["array userId", track({ userId: ["u"] }), /userId must be .*got an array/],
    ["empty anonymousId", track({ anonymousId: "" }), /anonymousId must not be empty/],
    ["blank userId alone", track({ anonymousId: undefined, userId: "   " }), /userId must not be empty/],
    ["newline in userId", track({ userId: "u\n1" }), /userId contains a control character/],
    ["NUL in anonymousId", track({ anonymousId: "a\u0000" }), /anonymousId contains a control character/],
    ["lone surrogate id", track({ anonymousId: "a\ud800b" }), /broken surrogate/],
    ["overlong id", track({ userId: "u".repeat(513) }), /userId is longer than 512/],
    ["numeric messageId", track({ messageId: 5 }), /messageId must be a string, got a number/],
    ["empty messageId", track({ messageId: "" }), /messageId must not be empty/],
    ["track without event", { type: "track", anonymousId: "a" }, /track needs an event name/],
    ["track with numeric event", track({ event: 3 }), /track needs an event name \(a string\), got a number/],
    ["track with empty event", track({ event: "" }), /event must not be empty/],
    ["track with control char event", track({ event: "a\tb" }), /event contains a control character/],
    ["track with overlong event", track({ event: "e".repeat(600) }), /event is longer than 512/],
    ["alias without previousId", { type: "alias", userId: "u" }, /alias needs previousId/],
    ["alias with object previousId", { type: "alias", userId: "u", previousId: {} }, /previousId must be a string/],
    ["group without groupId", { type: "group", userId: "u" }, /group needs groupId/],
    ["group with empty groupId", { type: "group", userId: "u", groupId: "" }, /groupId must not be empty/],
    ["string properties", track({ properties: "x" }), /properties must be an object, got a string/],
    ["array traits", { type: "identify", userId: "u", traits: [1] }, /traits must be an object, got an array/],
    ["numeric context", track({ context: 5 }), /context must be an object, got a number/],
    ["string integrations", track({ integrations: "all" }), /integrations must be an object/],
    ["numeric page name", { type: "page", anonymousId: "a", name: 5 }, /name must be a string, got a number/],
    ["object category", { type: "page", anonymousId: "a", category: {} }, /category must be a string/],
    ["string context.traits", track({ context: { traits: "x" } }), /context.traits must be an object/],
    ["string context.device", track({ context: { device: "x" } }), /context.device must be an object/],
    ["object externalIds", track({ context: { externalIds: {} } }), /context.externalIds must be an array/],
    ["bad externalIds entry", track({ context: { externalIds: [{ id: 1 }] } }), /externalIds\[0\] must be/],
    ["numeric timestamp", track({ timestamp: 1700000000 }), /timestamp must be an ISO-8601 string, got a number/],
    ["unparsable timestamp", track({ timestamp: "yesterday" }), /timestamp "yesterday" is not an ISO-8601/],
    ["impossible date", track({ timestamp: "2025-13-45T00:00:00Z" }), /not an ISO-8601/],
    // Date.parse would roll these over into another day; the sender never said that day.
    [
      "February 30th",
      track({ timestamp: "2024-02-30T10:00:00Z" }),
      /timestamp "2024-02-30T10:00:00Z" is not an ISO-8601/,
    ],
    ["February 29th of a common year", track({ timestamp: "2023-02-29" }), /is not an ISO-8601/],
    ["April 31st", track({ sentAt: "2024-04-31T00:00:00Z" }), /sentAt "2024-04-31T00:00:00Z" is not/],
    ["hour 24", track({ timestamp: "2024-01-01T24:00:00Z" }), /is not an ISO-8601/],
    ["minute 60", track({ timestamp: "2024-01-01T23:60:00Z" }), /is not an ISO-8601/],
    // A lone surrogate cannot be stored as UTF-8: accepted, it would be lost with its batch (issue 10, finding 1).
    [
      "lone surrogate in device id",
      track({ context: { device: { id: "X-\ud800" } } }),
      /message.context.device.id is not valid Unicode text/,
    ],
    [
      "lone surrogate in an email trait",
      { type: "identify", userId: "u", traits: { email: "a\udc00@x.com" } },
      /message.traits.email is not valid Unicode/,
    ],
    [
      "lone surrogate in an external id",
      track({ context: { externalIds: [{ id: "\udbff", type: "crm", collection: "users", encoding: "none" }] } }),
      /message.context.externalIds\[0\].id is not valid Unicode/,
    ],
    ["lone surrogate in a key", track({ properties: { "k\ud800": 1 } }), /is not valid Unicode text/],
    ["bad sentAt", track({ sentAt: "soon" }), /sentAt "soon" is not/],
    ["bad originalTimestamp", track({ originalTimestamp: true }), /originalTimestamp must be/],
    ["far-future timestamp", track({ timestamp: "2025-06-03T12:00:00Z" }), /^batch\[\d+\]: timestamp is more than 24/],
    [
      "a sentAt that puts a past timestamp in the future",
      track({ timestamp: "2024-01-01T00:00:00Z", sentAt: "1970-01-01T00:00:00Z" }),
      /timestamp, corrected for the client's clock by sentAt .* is sentAt right\?/,
    ],
    [
      "__proto__ in properties",
      JSON.parse('{"type":"page","anonymousId":"a","properties":{"__proto__":{"x":1}}}'),
      /key "__proto__" is not allowed \(at message.properties\)/,
    ],
    ["deep nesting", track({ properties: nested(MAX_PROPERTY_DEPTH + 1) }), /nests deeper than 32 levels/],
    ["oversized message", track({ properties: { blob: "x".repeat(MAX_MESSAGE_BYTES) } }), /over the 32768-byte limit/],
    ["oversized unicode message", track({ properties: { blob: "€".repeat(11_000) } }), /over the 32768-byte limit/],
  ];
  it.each(bad)("rejects %s with the reason", (_name, raw, reason) => {
    const r = validateMessage(raw, 3, { now: NOW });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(/^batch\[3\]: /);
      expect(r.error).toMatch(reason);
    }
  });

  it("accepts a future timestamp that clock-skew correction brings back", () => {
    const r = ok(track({ timestamp: "2025-06-03T12:00:00Z", sentAt: "2025-06-03T12:00:01Z" }));
    expect(r.ok).toBe(true);
  });

  it("uses the batch sentAt when the message has none", () => {
    const raw = track({ timestamp: "2025-06-03T12:00:00Z" });
    expect(validateMessage(raw, 0, { now: NOW, batchSentAt: "2025-06-03T12:00:05Z" }).ok).toBe(true);
  });

  it("measures size as serialised UTF-8: escapes count, a message just under the limit passes", () => {
    const base = JSON.stringify({
      type: "track",
      event: "Signed Up",
      anonymousId: "a1",
      properties: { blob: "" },
    }).length;
    expect(ok(track({ properties: { blob: "x".repeat(MAX_MESSAGE_BYTES - base) } })).ok).toBe(true);
    expect(ok(track({ properties: { blob: "x".repeat(MAX_MESSAGE_BYTES - base + 1) } })).ok).toBe(false);
    // 6,000 control characters are 6,000 UTF-16 units but 36,000 bytes once escaped as \u0001.
    const escaped = ok(track({ properties: { blob: "\u0001".repeat(6000) } }));
    expect(escaped.ok === false && escaped.error).toMatch(/over the 32768-byte limit \(36\d{3} bytes/);
  });

  it("accepts unicode text and nesting exactly at the limit", () => {
    const r = ok(track({ event: "Achat réussi 🎉", properties: nested(MAX_PROPERTY_DEPTH - 1) as object }));
    expect(r.ok).toBe(true);
  });
});

describe("parseIsoTimestamp", () => {
  it("reads the forms Segment libraries send and refuses others", () => {
    expect(parseIsoTimestamp("2025-06-01T12:00:00.000Z")).toBe(NOW);
    expect(parseIsoTimestamp("2025-06-01T14:00:00+02:00")).toBe(NOW);
    expect(parseIsoTimestamp("2025-06-01")).toBe(Date.parse("2025-06-01T00:00:00Z"));
    expect(parseIsoTimestamp("June 1, 2025")).toBeNull();
    expect(parseIsoTimestamp("2025-06-01T12:00:00+25:00")).toBeNull();
  });

  it("reads every zone and fraction form ISO 8601 allows, which Date.parse refuses", () => {
    // `+HH`, `+HHMM`, a negative zone, a comma before the fraction, a fraction finer than ms, no zone (UTC).
    expect(parseIsoTimestamp("2025-06-01T13:00:00+01")).toBe(NOW);
    expect(parseIsoTimestamp("2025-06-01T13:30:00+0130")).toBe(NOW);
    expect(parseIsoTimestamp("2025-06-01T07:00-05")).toBe(NOW);
    expect(parseIsoTimestamp("2025-06-01T12:00:00,5Z")).toBe(NOW + 500);
    expect(parseIsoTimestamp("2025-06-01T12:00:00.123456789Z")).toBe(NOW + 123);
    expect(parseIsoTimestamp("2025-06-01 12:00:00")).toBe(NOW);
    expect(parseIsoTimestamp("1717243200")).toBeNull();
  });
});

describe("parseIsoTimestamp in the first century", () => {
  it("reads years 0000-0099 as written (Go's zero time is year 1), not as 1900-1999", () => {
    expect(new Date(parseIsoTimestamp("0001-01-01T00:00:00Z") as number).toISOString()).toBe(
      "0001-01-01T00:00:00.000Z",
    );
    expect(new Date(parseIsoTimestamp("0024-02-29") as number).toISOString()).toBe("0024-02-29T00:00:00.000Z");
    // Leap years by their own number: 0000 was one (divisible by 400), 1900 was not.
    expect(new Date(parseIsoTimestamp("0000-02-29") as number).toISOString()).toBe("0000-02-29T00:00:00.000Z");
    expect(parseIsoTimestamp("0023-02-29")).toBeNull();
  });
});

describe("storedEventTime", () => {
  const at = (iso: string) => Date.parse(iso);
  it("corrects for the sender's skew with sentAt, the message's before the batch's", () => {
    // The device's clock runs an hour fast; the event happened 10 s before it sent the batch.
    const device = { originalTimestamp: "2025-06-01T12:59:50Z", sentAt: "2025-06-01T13:00:00Z" };
    expect(storedEventTime(device, undefined, NOW)).toBe(NOW - 10_000);
    expect(storedEventTime({ timestamp: "2025-06-01T12:59:50Z" }, "2025-06-01T13:00:00Z", NOW)).toBe(NOW - 10_000);
  });

  it("without sentAt keeps timestamp as sent, then originalTimestamp, then receivedAt", () => {
    const archived = { originalTimestamp: "2024-03-01T10:14:00Z", timestamp: "2024-03-01T10:15:00.900Z" };
    expect(storedEventTime(archived, undefined, NOW)).toBe(at("2024-03-01T10:15:00.900Z"));
    expect(storedEventTime({ originalTimestamp: "2024-03-01T10:14:00Z" }, undefined, NOW)).toBe(
      at("2024-03-01T10:14:00Z"),
    );
    expect(storedEventTime({}, undefined, NOW)).toBe(NOW);
  });

  it("reads a zone written +HH as the validation accepted it", () => {
    expect(storedEventTime({ timestamp: "2025-06-01T13:00:00+01" }, undefined, NOW + 5)).toBe(NOW);
    expect(storedEventTime({ timestamp: "2025-06-01T13:59:50+01" }, "2025-06-01T13:00:00Z", NOW)).toBe(NOW - 10_000);
  });
});

describe("inspectTree", () => {
  it("finds forbidden keys at any depth and ignores scalars", () => {
    expect(inspectTree({ a: { b: [{ __proto__: null }] } }, "x")).toBeNull();
    expect(inspectTree(JSON.parse('{"a":{"b":[{"__proto__":1}]}}'), "x")).toBe(
      'key "__proto__" is not allowed (at x.a.b[0])',
    );
    expect(inspectTree("text", "x")).toBeNull();
  });

  it("accepts surrogate pairs and refuses lone halves, wherever they are", () => {
    expect(inspectTree({ emoji: "😀", nested: ["\ud83d\ude00"] }, "x")).toBeNull();
    expect(inspectTree({ a: ["ok", "\ude00"] }, "x")).toBe(
      "x.a[1] is not valid Unicode text (it holds a lone UTF-16 surrogate)",
    );
  });
});
