import { describe, expect, it } from "vitest";
import { cloningStorage, memoryStorage, scriptedTransport } from "../test-support/fakes";
import { Engine } from "./engine";
import { KEYS, type KeyValue, memoryKeyValue } from "./key-value";

function setup() {
  const t = scriptedTransport();
  const kv = memoryKeyValue();
  let n = 0;
  const e = new Engine({
    writeKey: "wk",
    apiHost: "http://h",
    transport: t.transport,
    storage: memoryStorage,
    kv,
    uuid: () => `id-${++n}`,
    context: () => ({ page: { path: "/now" } }),
    library: { name: "tessera.js", version: "9" },
  });
  return { e, kv, ...t };
}

describe("Engine", () => {
  it("builds Segment Spec messages with messageId, timestamp, anonymousId and context", async () => {
    const { e, sent } = setup();
    e.track("Clicked", { x: 1 }, { context: { page: { path: "/then" } } });
    await e.flush();
    const [m] = sent[0].body.batch;
    expect(m).toMatchObject({
      type: "track",
      event: "Clicked",
      properties: { x: 1 },
      messageId: "id-1",
      anonymousId: "id-2",
      context: { library: { name: "tessera.js", version: "9" }, page: { path: "/then" }, sessionStart: true },
    });
    expect(Date.parse(m.timestamp as string)).not.toBeNaN();
  });

  it("identify sets the user id on later events and merges traits; a new user starts fresh", async () => {
    const { e, sent } = setup();
    e.track("Before");
    e.identify("u1", { email: "a@x.io" });
    e.identify(undefined, { plan: "pro" });
    e.track("After");
    e.identify("u2", { email: "b@x.io" });
    e.track("Then");
    await e.flush();
    const [before, i1, i2, t, i3, then] = sent[0].body.batch;
    expect(i1).toMatchObject({ type: "identify", userId: "u1", traits: { email: "a@x.io" } });
    expect(i2).toMatchObject({ userId: "u1", traits: { email: "a@x.io", plan: "pro" } });
    expect(t).toMatchObject({ userId: "u1" });
    expect(i3.traits).toEqual({ email: "b@x.io" });
    // The first user keeps the anonymous browsing before the login; the next one gets an anonymous id of their own.
    expect([i1, i2, t].map((m) => m.anonymousId)).toEqual(Array(3).fill(before.anonymousId));
    expect(i3.anonymousId).not.toBe(before.anonymousId);
    expect(then).toMatchObject({ userId: "u2", anonymousId: i3.anonymousId });
  });

  it("takes a numeric user id named again for the same user (its traits and anonymous id stay)", () => {
    const { e } = setup();
    e.identify(42 as unknown as string, { plan: "pro" });
    const before = e.user();
    e.identify(42 as unknown as string, { seats: 3 });
    expect(e.user()).toEqual({ anonymousId: before.anonymousId, userId: "42", traits: { plan: "pro", seats: 3 } });
  });

  it("merges stored traits only into the user they were stored for (ids shared across subdomains, traits not)", () => {
    // Two subdomains: the ids in one shared store (a cookie), everything else in each one's own (localStorage).
    const shared = memoryKeyValue();
    const subdomain = (): KeyValue => {
      const own = memoryKeyValue();
      const ids: string[] = [KEYS.anonymousId, KEYS.userId];
      return {
        get: (k) => (ids.includes(k) ? shared : own).get(k),
        set: (k, v) => (ids.includes(k) ? shared : own).set(k, v),
      };
    };
    const opts = {
      writeKey: "wk",
      apiHost: "http://h",
      transport: scriptedTransport().transport,
      storage: memoryStorage,
    };
    const a = new Engine({ ...opts, kv: subdomain() });
    const b = new Engine({ ...opts, kv: subdomain() });
    b.identify("alice", { email: "alice@x.io" });
    a.identify("bob", { plan: "pro" });
    expect(b.user().traits).toEqual({});
    b.identify("bob", { seats: 3 });
    expect(b.user().traits).toEqual({ seats: 3 });
    a.reset();
    expect(b.user().traits).toEqual({});
    b.identify("carol", { email: "carol@x.io" });
    expect(b.user().traits).toEqual({ email: "carol@x.io" });
    // Anonymous traits still carry over to whoever logs in next, on the subdomain that stored them.
    a.reset();
    a.identify(null, { source: "ad" });
    a.identify("dave", { name: "Dave" });
    expect(a.user().traits).toEqual({ source: "ad", name: "Dave" });
  });

  it("reads traits stored in the old unowned format as no one's", () => {
    const { e, kv } = setup();
    kv.set(KEYS.userId, "bob");
    kv.set(KEYS.traits, JSON.stringify({ email: "alice@x.io" }));
    expect(e.user().traits).toEqual({});
    e.identify("bob", { plan: "pro" });
    expect(e.user().traits).toEqual({ plan: "pro" });
  });

  it("reset rotates the anonymous id and forgets the user", () => {
    const { e, kv } = setup();
    e.identify("u1", { a: 1 });
    const before = e.user().anonymousId;
    e.reset();
    expect(e.user()).toEqual({ anonymousId: expect.not.stringMatching(before), userId: null, traits: {} });
    expect(kv.get(KEYS.userId)).toBeUndefined();
  });

  it("alias links the current id to the new one; group carries its id and traits", async () => {
    const { e, sent } = setup();
    e.alias("u9");
    e.group("g1", { name: "Acme" });
    e.page("Home", { a: 1 });
    await e.flush();
    const [a, g, p] = sent[0].body.batch;
    expect(a).toMatchObject({ type: "alias", userId: "u9", previousId: "id-1" });
    expect(g).toMatchObject({ type: "group", groupId: "g1", traits: { name: "Acme" } });
    expect(p).toMatchObject({ type: "page", name: "Home", properties: { a: 1 } });
  });

  it("hold stores calls at once but sends nothing before it settles; renameAnonymousId restamps what waits", async () => {
    const { store, map } = cloningStorage();
    const t = scriptedTransport();
    const e = new Engine({
      writeKey: "wk",
      apiHost: "http://h",
      transport: t.transport,
      storage: () => store,
      kv: memoryKeyValue(),
    });
    let answer!: () => void;
    void e.hold(new Promise<void>((r) => (answer = r)));
    const fresh = e.user().anonymousId;
    e.track("Early");
    void e.flush();
    await new Promise((r) => setTimeout(r, 10));
    expect([t.sent.length, map.size]).toEqual([0, 1]);
    e.renameAnonymousId(fresh, "from-server");
    answer();
    await e.flush();
    expect(t.sent[0].body.batch.map((m) => m.anonymousId)).toEqual(["from-server"]);
  });

  it("alias while identified sends the new id as userId and the current one as previousId", async () => {
    const { e, sent } = setup();
    e.identify("old-user");
    e.alias("new-user");
    await e.flush();
    expect(sent[0].body.batch[1]).toMatchObject({ type: "alias", userId: "new-user", previousId: "old-user" });
  });

  it("runs plugins by stage and drops messages a plugin returns null for", async () => {
    const { e, sent } = setup();
    const seen: string[] = [];
    e.use({
      stage: "after",
      run: (m) => {
        seen.push("after");
        return m;
      },
    });
    e.use({
      stage: "before",
      run: (m) => {
        seen.push("before");
        return m.type === "track" && m.event === "Drop" ? null : m;
      },
    });
    e.use({
      run: () => {
        throw new Error("broken plugin");
      },
    });
    e.track("Drop");
    e.track("Keep");
    await e.flush();
    expect(sent[0].body.batch.map((m) => m.event)).toEqual(["Keep"]);
    expect(seen).toEqual(["before", "before", "after"]);
  });

  it("applies analytics.js call options: integrations on the message, ids and timestamp over its own, the rest into context", async () => {
    const { e, sent } = setup();
    e.identify("u1");
    e.track(
      "Opts",
      {},
      {
        integrations: { All: false, Mixpanel: true },
        anonymousId: "override-anon",
        userId: "override-user",
        messageId: "mid-1",
        timestamp: new Date("2024-05-01T10:00:00Z"),
        ip: "1.2.3.4",
        traits: { email: "a@x.io" },
        context: { page: { path: "/then" } },
      },
    );
    e.track("Plain");
    await e.flush();
    const [, opts, plain] = sent[0].body.batch;
    expect(opts).toMatchObject({
      integrations: { All: false, Mixpanel: true },
      anonymousId: "override-anon",
      userId: "override-user",
      messageId: "mid-1",
      timestamp: "2024-05-01T10:00:00.000Z",
      context: { ip: "1.2.3.4", traits: { email: "a@x.io" }, page: { path: "/then" } },
    });
    // Per call only: the stored identity is untouched.
    expect(plain).toMatchObject({ userId: "u1", anonymousId: e.user().anonymousId });
    expect(plain.integrations).toBeUndefined();
    expect(e.user().userId).toBe("u1");
  });

  it("takes a timestamp given as a string, and sends an invalid one as now rather than losing the event", async () => {
    const { e, sent } = setup();
    e.track("Text", {}, { timestamp: "2024-05-01T10:00:00Z" });
    e.track("Garbage", {}, { timestamp: "not a date" });
    e.track("Invalid", {}, { timestamp: new Date(Number.NaN) });
    await e.flush();
    const [text, garbage, invalid] = sent[0].body.batch;
    expect(text.timestamp).toBe("2024-05-01T10:00:00.000Z");
    for (const m of [garbage, invalid])
      expect(Math.abs(Date.parse(m.timestamp as string) - Date.now())).toBeLessThan(5000);
  });

  it("keeps events whose plugin returned a new message without a messageId apart (they shared one queue key)", async () => {
    const { e, sent } = setup();
    e.use({ run: ({ messageId, ...rest }) => rest as typeof rest & { type: "track"; event: string } });
    for (const event of ["A", "B", "C"]) e.track(event);
    await e.flush();
    const batch = sent[0].body.batch;
    expect(batch.map((m) => m.event)).toEqual(["A", "B", "C"]);
    expect(new Set(batch.map((m) => m.messageId)).size).toBe(3);
  });

  it("measures the per-event limit in UTF-8 bytes, as the server does", async () => {
    const { e, sent } = setup();
    // 15,000 characters, 45,000 bytes: over the 32 KB the server accepts.
    e.track("Wide", { text: "日".repeat(15_000) });
    e.track("Small");
    await e.flush();
    expect(sent[0].body.batch.map((m) => m.event)).toEqual(["Small"]);
  });

  it("sizes batches in UTF-8 bytes", async () => {
    const t = scriptedTransport();
    const e = new Engine({
      writeKey: "wk",
      apiHost: "http://h",
      transport: t.transport,
      storage: memoryStorage,
      kv: memoryKeyValue(),
      maxBatchBytes: 40_000,
    });
    // Two events of ~7,000 characters, ~21,000 bytes each: one per request.
    for (const event of ["A", "B"]) e.track(event, { text: "日".repeat(7000) });
    await e.flush();
    expect(t.sent.map((s) => s.body.batch.map((m) => m.event))).toEqual([["A"], ["B"]]);
  });

  it("drops events over maxEventBytes", async () => {
    const { e, sent } = setup();
    e.track("Huge", { blob: "x".repeat(40_000) });
    e.track("Small");
    await e.flush();
    expect(sent[0].body.batch.map((m) => m.event)).toEqual(["Small"]);
  });
  it("stores a JSON copy of each event, so a value storage cannot clone fails no write (QA: O2 lost offline)", async () => {
    const { store, map } = cloningStorage();
    const opts = { writeKey: "wk", apiHost: "http://h", storage: () => store, kv: memoryKeyValue() };
    const offline = new Engine({ ...opts, transport: scriptedTransport().transport, isOnline: () => false });
    offline.track("O1");
    offline.track("Fn", { cb: (() => 1) as never, at: new Date(0) as never });
    offline.track("O2");
    await offline.flush();
    expect(map.size).toBe(3);
    // The next page, online, delivers all three, as they will be sent: no function, the date as JSON.
    const t = scriptedTransport();
    await new Engine({ ...opts, transport: t.transport }).flush();
    expect(t.sent[0].body.batch.map((m) => [m.event, m.properties])).toEqual([
      ["O1", {}],
      ["Fn", { at: "1970-01-01T00:00:00.000Z" }],
      ["O2", {}],
    ]);
  });
});
