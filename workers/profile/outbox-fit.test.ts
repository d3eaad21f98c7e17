import type { Identifier, MembershipChanges } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { fitted } from "./outbox";

const message = (identifiers: Identifier[], traits = {}): MembershipChanges => ({
  kind: "memberships",
  workspaceId: "ws_1",
  profileId: "prf_1",
  changes: [{ audience: "vip", member: true, seq: 1, at: "2026-12-01T00:00:00.000Z" }],
  identifiers,
  traits,
  computed: {},
});

describe("a membership message made to fit one queue message", () => {
  it("leaves a message that fits as it is", () => {
    const small = message([{ type: "email", value: "a@example.com" }], { plan: "pro" });
    expect(fitted(small)).toBe(small);
  });

  it("leaves out what destinations need least: unmatched identifiers, then the largest values", () => {
    // 300 identifiers of 500 characters (150 KB), the matched ones last in the profile's order.
    const anonymous = Array.from({ length: 297 }, (_, i) => ({
      type: "anonymous_id",
      value: `${i}-`.padEnd(500, "a"),
    }));
    const matched = [
      { type: "email", value: "e@example.com" },
      { type: "user_id", value: "u-1" },
      { type: "phone", value: "+14155550100" },
    ];
    const out = fitted(message([...anonymous, ...matched], { plan: "pro", bio: "b".repeat(20_000) }));
    expect(new TextEncoder().encode(JSON.stringify(out)).length).toBeLessThanOrEqual(100_000);
    // The anonymous ids go first (destinations do not match on them), as many as it takes; then the bulky bio.
    expect(out.identifiers.filter((id) => id.type !== "anonymous_id")).toEqual(matched);
    expect(out.identifiers.length).toBeGreaterThan(150);
    expect(out.traits).toEqual({ plan: "pro", bio: "b".repeat(20_000) });
    const bulky = fitted(message(matched, { plan: "pro", a: "a".repeat(60_000), b: "b".repeat(50_000) }));
    expect(bulky.traits).toEqual({ plan: "pro", b: "b".repeat(50_000) });
    expect(bulky.identifiers).toEqual(matched);
  });
});
