import type { AudienceNode, CountCondition, EventNode } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { DAY, HOUR, memoryFacts, messageAt, SECOND, trackAt } from "../test-support/profile-facts";
import { evaluateAudience } from "./evaluate";
import type { ProfileFacts } from "./profile-facts";

const now = Date.UTC(2025, 5, 1, 12);
const none = new Set<string>();
const evaluate = (def: AudienceNode, facts: ProfileFacts, at = now, computed = {}, memberships = none) =>
  evaluateAudience(def, facts, computed, memberships, at);

describe("evaluateAudience: node types", () => {
  const facts = memoryFacts({ traits: { plan: "pro", address: { city: "Lyon" }, tags: ["beta"] } });

  it("tests profile traits by dotted path", () => {
    expect(evaluate({ trait: "plan", op: "eq", value: "pro" }, facts).member).toBe(true);
    expect(evaluate({ trait: "address.city", op: "in", value: ["Paris", "Lyon"] }, facts).member).toBe(true);
    expect(evaluate({ trait: "tags", op: "contains", value: "beta" }, facts).member).toBe(true);
    expect(evaluate({ trait: "plan", op: "eq", value: "free" }, facts).member).toBe(false);
    expect(evaluate({ trait: "age", op: "lt", value: 30 }, facts).member).toBe(false);
    expect(evaluate({ trait: "age", op: "not_exists" }, facts)).toEqual({ member: true, nextChangeAt: null });
  });

  it("tests computed traits, a null value being missing", () => {
    const computed = { lifetime_value: 150, last_sku: null };
    expect(evaluate({ computed: "lifetime_value", op: "gte", value: 100 }, facts, now, computed).member).toBe(true);
    expect(evaluate({ computed: "lifetime_value", op: "gt", value: 150 }, facts, now, computed).member).toBe(false);
    expect(evaluate({ computed: "last_sku", op: "exists" }, facts, now, computed).member).toBe(false);
    expect(evaluate({ computed: "unknown_yet", op: "not_exists" }, facts, now, computed).member).toBe(true);
  });

  it("tests membership of other audiences", () => {
    expect(evaluate({ audience: "vip" }, facts, now, {}, new Set(["vip"])).member).toBe(true);
    expect(evaluate({ audience: "vip" }, facts).member).toBe(false);
  });

  it("combines with all, any and not", () => {
    const pro = { trait: "plan", op: "eq", value: "pro" } as const;
    const free = { trait: "plan", op: "eq", value: "free" } as const;
    expect(evaluate({ all: [pro, { not: free }] }, facts).member).toBe(true);
    expect(evaluate({ all: [pro, free] }, facts).member).toBe(false);
    expect(evaluate({ any: [free, pro] }, facts).member).toBe(true);
    expect(evaluate({ any: [free, { not: pro }] }, facts).member).toBe(false);
    expect(evaluate({ not: { not: pro } }, facts).member).toBe(true);
  });
});

describe("evaluateAudience: event nodes", () => {
  const orders = memoryFacts({
    events: [
      trackAt("Order Completed", now - 3 * DAY, { channel: "pos", revenue: 80 }),
      trackAt("Order Completed", now - 2 * DAY, { channel: "web", revenue: 20 }),
      trackAt("Order Completed", now - DAY, { channel: "pos", revenue: 120 }),
      messageAt("page", now - HOUR),
    ],
  });

  it("holds with one matching event by default, filtered by where", () => {
    expect(evaluate({ event: "Order Completed" }, orders).member).toBe(true);
    expect(evaluate({ event: "Refund Issued" }, orders).member).toBe(false);
    const big: EventNode = { event: "Order Completed", where: [{ property: "revenue", op: "gt", value: 100 }] };
    expect(evaluate(big, orders).member).toBe(true);
    const bigWeb: EventNode = {
      ...big,
      where: [...(big.where ?? []), { property: "channel", op: "eq", value: "web" }],
    };
    expect(evaluate(bigWeb, orders).member).toBe(false);
  });

  it('counts any track event with "*", never pages or identifies', () => {
    expect(evaluate({ event: "*", count: { op: "eq", value: 3 } }, orders).member).toBe(true);
  });

  it.each<[CountCondition, boolean]>([
    [{ op: "eq", value: 2 }, true],
    [{ op: "eq", value: 3 }, false],
    [{ op: "neq", value: 3 }, true],
    [{ op: "gt", value: 1 }, true],
    [{ op: "gt", value: 2 }, false],
    [{ op: "gte", value: 2 }, true],
    [{ op: "lt", value: 3 }, true],
    [{ op: "lt", value: 2 }, false],
    [{ op: "lte", value: 2 }, true],
    [{ op: "gte", value: 0 }, true],
  ])("compares the count of two pos orders with %j → %s", (count, member) => {
    const def: EventNode = {
      event: "Order Completed",
      where: [{ property: "channel", op: "eq", value: "pos" }],
      count,
    };
    expect(evaluate(def, orders).member).toBe(member);
  });

  it("reads no more than count.value + 1 events, however long the history", () => {
    const busy = memoryFacts({
      events: Array.from({ length: 500 }, (_, i) => trackAt("Page Viewed", now - i * SECOND)),
    });
    expect(evaluate({ event: "Page Viewed", count: { op: "gte", value: 3 } }, busy).member).toBe(true);
    expect(busy.reads).toBe(4);
  });
});

describe("evaluateAudience: windows flip by time alone", () => {
  const t = now - 10 * DAY;
  const opened = () => memoryFacts({ events: [trackAt("Email Opened", t)] });

  it("keeps an event in its window until t + within, to the millisecond", () => {
    const def = { event: "Email Opened", within: "30d" } as const;
    const end = t + 30 * DAY;
    expect(evaluate(def, opened())).toEqual({ member: true, nextChangeAt: end });
    expect(evaluate(def, opened(), end - 1)).toEqual({ member: true, nextChangeAt: end });
    expect(evaluate(def, opened(), end)).toEqual({ member: false, nextChangeAt: null });
  });

  it("enters a not … within audience when the last event leaves the window", () => {
    const def = { not: { event: "Email Opened", within: "60d" } } as const;
    const end = t + 60 * DAY;
    expect(evaluate(def, opened())).toEqual({ member: false, nextChangeAt: end });
    expect(evaluate(def, opened(), end - 1).member).toBe(false);
    expect(evaluate(def, opened(), end)).toEqual({ member: true, nextChangeAt: null });
  });

  it("flips a count threshold when the event that holds it up leaves", () => {
    // Newest first: 1h, 2d, 4d, 6d ago. gte 3 within 7d holds until the third newest (4d ago) leaves.
    const facts = () =>
      memoryFacts({ events: [6 * DAY, 4 * DAY, 2 * DAY, HOUR].map((ago) => trackAt("Login", now - ago)) });
    const def = { event: "Login", within: "7d", count: { op: "gte", value: 3 } } as const;
    const flip = now - 4 * DAY + 7 * DAY;
    expect(evaluate(def, facts())).toEqual({ member: true, nextChangeAt: flip });
    expect(evaluate(def, facts(), flip - 1).member).toBe(true);
    expect(evaluate(def, facts(), flip).member).toBe(false);
  });

  it("enters a below-threshold audience as events age out", () => {
    const facts = () =>
      memoryFacts({ events: [6 * DAY, 4 * DAY, 2 * DAY].map((ago) => trackAt("Support Ticket", now - ago)) });
    const def = { event: "Support Ticket", within: "7d", count: { op: "lt", value: 2 } } as const;
    const enter = now - 4 * DAY + 7 * DAY;
    expect(evaluate(def, facts())).toEqual({ member: false, nextChangeAt: enter });
    expect(evaluate(def, facts(), enter).member).toBe(true);
  });

  it("counts an event dated in the future from its timestamp, and leaves at its window's end", () => {
    const due = now + HOUR;
    const facts = memoryFacts({ events: [trackAt("Webinar Attended", due)] });
    const def = { event: "Webinar Attended", within: "1d" } as const;
    expect(evaluate(def, facts)).toEqual({ member: false, nextChangeAt: due });
    expect(evaluate(def, facts, due)).toEqual({ member: true, nextChangeAt: due + DAY });
    expect(evaluate({ event: "Webinar Attended" }, facts)).toEqual({ member: false, nextChangeAt: due });
  });

  it("reports the earliest flip of any node, even one that does not decide the answer now", () => {
    const facts = memoryFacts({
      traits: { plan: "free" },
      events: [trackAt("Email Opened", now - 50 * DAY)],
    });
    const def: AudienceNode = {
      all: [{ trait: "plan", op: "eq", value: "pro" }, { not: { event: "Email Opened", within: "60d" } }],
    };
    expect(evaluate(def, facts)).toEqual({ member: false, nextChangeAt: now + 10 * DAY });
  });
});

describe("evaluateAudience: the seed workflow of DESIGN §6", () => {
  const lapsedStoreBuyers: AudienceNode = {
    all: [
      { event: "Order Completed", where: [{ property: "channel", op: "eq", value: "pos" }], within: "30d" },
      { not: { event: "Email Opened", within: "60d" } },
    ],
  };

  it("holds for an in-store buyer 10 days ago whose last open was 90 days ago, until the order ages out", () => {
    const order = now - 10 * DAY;
    const facts = memoryFacts({
      events: [trackAt("Email Opened", now - 90 * DAY), trackAt("Order Completed", order, { channel: "pos" })],
    });
    expect(evaluate(lapsedStoreBuyers, facts)).toEqual({ member: true, nextChangeAt: order + 30 * DAY });
    expect(evaluate(lapsedStoreBuyers, facts, order + 30 * DAY).member).toBe(false);
  });

  it("exits at once when the buyer opens an email", () => {
    const facts = memoryFacts({
      events: [trackAt("Email Opened", now - 90 * DAY), trackAt("Order Completed", now - 10 * DAY, { channel: "pos" })],
    });
    facts.add(trackAt("Email Opened", now));
    expect(evaluate(lapsedStoreBuyers, facts).member).toBe(false);
  });

  it("enters by time alone when the last open turns 60 days old", () => {
    const lastOpen = now - (60 * DAY - 4 * SECOND);
    const facts = memoryFacts({
      events: [trackAt("Email Opened", lastOpen), trackAt("Order Completed", now - 5 * DAY, { channel: "pos" })],
    });
    expect(evaluate(lapsedStoreBuyers, facts)).toEqual({ member: false, nextChangeAt: now + 4 * SECOND });
    expect(evaluate(lapsedStoreBuyers, facts, now + 4 * SECOND - 1).member).toBe(false);
    expect(evaluate(lapsedStoreBuyers, facts, now + 4 * SECOND).member).toBe(true);
  });

  it("never holds for an online buyer", () => {
    const facts = memoryFacts({ events: [trackAt("Order Completed", now - 5 * DAY, { channel: "web" })] });
    expect(evaluate(lapsedStoreBuyers, facts).member).toBe(false);
  });
});
