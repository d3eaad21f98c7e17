import { describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  AudienceCreate,
  AudienceUpdate,
  ComputedTraitCreate,
  Duration,
  durationMs,
  MembershipChange,
  MembershipChanges,
  parsePropertyPath,
  unpackMembershipChanges,
} from "./audiences";

const firstIssue = (result: z.ZodSafeParseResult<unknown>) => {
  expect(result.success).toBe(false);
  const [issue] = result.error!.issues;
  return { path: issue.path, message: issue.message };
};

describe("audience request bodies", () => {
  it("fail at the first bad node of the definition, with the grammar's reason", () => {
    const result = AudienceCreate.safeParse({
      key: "lapsed_store_buyers",
      definition: {
        all: [{ trait: "plan", op: "eq", value: "pro" }, { not: { event: "Email Opened", within: "60x" } }],
      },
    });
    expect(firstIssue(result)).toEqual({
      path: ["definition", "all", 1, "not", "within"],
      message: '"60x" is not a duration',
    });
  });

  it("accept the seed workflow and give it back unchanged", () => {
    const body = {
      key: "lapsed_store_buyers",
      name: "Lapsed store buyers",
      definition: {
        all: [
          { event: "Order Completed", where: [{ property: "channel", op: "eq", value: "pos" }], within: "30d" },
          { not: { event: "Email Opened", within: "60d" } },
        ],
      },
    };
    expect(AudienceCreate.parse(body)).toEqual(body);
  });

  it("name a missing definition, a bad key and an unknown field", () => {
    expect(firstIssue(AudienceCreate.safeParse({ key: "vip" }))).toEqual({
      path: ["definition"],
      message: "is required",
    });
    expect(firstIssue(AudienceCreate.safeParse({ key: "VIP", definition: { audience: "x" } }))).toMatchObject({
      path: ["key"],
    });
    expect(firstIssue(AudienceUpdate.safeParse({ defintion: { audience: "x" } })).message).toBe(
      'unknown field "defintion" (known: name, description, definition)',
    );
  });

  it("let an update leave the definition out", () => {
    expect(AudienceUpdate.parse({ name: "VIPs" })).toEqual({ name: "VIPs" });
  });

  it("check computed-trait definitions the same way", () => {
    const result = ComputedTraitCreate.safeParse({ key: "ltv", definition: { op: "sum", event: "Order Completed" } });
    expect(firstIssue(result)).toEqual({ path: ["definition", "property"], message: 'is required for "sum"' });
  });
});

describe("durations and paths", () => {
  it("read durations into milliseconds", () => {
    expect(durationMs("90s")).toBe(90_000);
    expect(durationMs("2w")).toBe(14 * 86_400_000);
    expect(durationMs("30 d")).toBeUndefined();
    expect(firstIssue(Duration.safeParse("3651d")).message).toBe('"3651d" is longer than the 3650d cap on windows');
  });

  it("split $ paths into the message and others into properties", () => {
    expect(parsePropertyPath("$context.page.path")).toEqual({
      scope: "message",
      segments: ["context", "page", "path"],
    });
    expect(parsePropertyPath("items.0.sku")).toEqual({ scope: "properties", segments: ["items", "0", "sku"] });
  });
});

describe("MembershipChange", () => {
  it("carries who, which audience, the direction and the per-profile sequence", () => {
    const change: MembershipChange = {
      kind: "membership",
      workspaceId: "ws_1",
      profileId: "prf_1",
      audience: "lapsed_store_buyers",
      member: true,
      seq: 7,
      at: "2025-06-01T12:00:04.000Z",
      identifiers: [{ type: "email", value: "jane@example.com" }],
      traits: { first_name: "Jane" },
      computed: { lifetime_value: 420 },
    };
    expect(MembershipChange.parse(change)).toEqual(change);
    expect(MembershipChange.safeParse({ ...change, seq: -1 }).success).toBe(false);
  });
});

describe("MembershipChanges", () => {
  it("packs a profile's changes with its state once, and unpacks into one MembershipChange each", () => {
    const packed: MembershipChanges = {
      kind: "memberships",
      workspaceId: "ws_1",
      profileId: "prf_1",
      changes: [
        { audience: "vip", member: true, seq: 7, at: "2025-06-01T12:00:04.000Z" },
        { audience: "lapsed", member: false, seq: 8, at: "2025-06-01T12:00:04.000Z" },
      ],
      identifiers: [{ type: "email", value: "jane@example.com" }],
      traits: { first_name: "Jane" },
      computed: {},
    };
    expect(MembershipChanges.parse(packed)).toEqual(packed);
    expect(MembershipChanges.safeParse({ ...packed, changes: [] }).success).toBe(false);
    expect(unpackMembershipChanges(packed)).toEqual([
      {
        kind: "membership",
        workspaceId: "ws_1",
        profileId: "prf_1",
        audience: "vip",
        member: true,
        seq: 7,
        at: "2025-06-01T12:00:04.000Z",
        identifiers: packed.identifiers,
        traits: packed.traits,
        computed: {},
      },
      {
        kind: "membership",
        workspaceId: "ws_1",
        profileId: "prf_1",
        audience: "lapsed",
        member: false,
        seq: 8,
        at: "2025-06-01T12:00:04.000Z",
        identifiers: packed.identifiers,
        traits: packed.traits,
        computed: {},
      },
    ]);
  });
});
