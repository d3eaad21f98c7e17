import type { AcceptedMessage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { extractIdentifiers, normalizeIdentifier } from "./extract";
import { DEFAULT_IDENTITY_RULES, type IdentityRules } from "./rules";

const base = { messageId: "m1", timestamp: "2025-01-01T00:00:00.000Z", receivedAt: "2025-01-01T00:00:00.000Z" };
const msg = (m: Record<string, unknown>) => ({ ...base, context: {}, ...m }) as unknown as AcceptedMessage;

describe("extractIdentifiers", () => {
  it("reads user, anonymous, device, email and phone ids from an identify call", () => {
    const out = extractIdentifiers(
      msg({
        type: "identify",
        userId: " 42 ",
        anonymousId: "anon-1",
        traits: { email: " Jane@Example.COM ", phone: "+44 20 7946 0000" },
        context: { device: { id: "dev-1" }, traits: { email: "jane@example.com" } },
      }),
      DEFAULT_IDENTITY_RULES,
    );
    expect(out.identifiers).toEqual([
      { type: "user_id", value: "42" },
      { type: "anonymous_id", value: "anon-1" },
      { type: "email", value: "jane@example.com" },
      { type: "phone", value: "+442079460000" },
      { type: "device_id", value: "dev-1" },
    ]);
    expect(out.blocked).toEqual([]);
  });

  it("takes externalIds with lowercased types and refuses malformed types", () => {
    const out = extractIdentifiers(
      msg({
        type: "track",
        event: "x",
        anonymousId: "a",
        context: {
          externalIds: [
            { id: "L-1", type: "Loyalty_ID", collection: "users", encoding: "none" },
            { id: "x", type: "bad type!" },
            { id: "JOE@X.IO", type: "email" },
          ],
        },
      }),
      DEFAULT_IDENTITY_RULES,
    );
    expect(out.identifiers).toContainEqual({ type: "loyalty_id", value: "L-1" });
    expect(out.identifiers).toContainEqual({ type: "email", value: "joe@x.io" });
    expect(out.blocked).toHaveLength(1);
    expect(out.blocked[0].reason).toMatch(/externalIds type/);
  });

  it("promotes configured trait keys, from identify traits and context.traits", () => {
    const rules: IdentityRules = { ...DEFAULT_IDENTITY_RULES, promotedTraits: ["crm_id", "shop_id"] };
    const out = extractIdentifiers(
      msg({ type: "identify", userId: "u", traits: { crm_id: 1234 }, context: { traits: { shop_id: "S9" } } }),
      rules,
    );
    expect(out.identifiers).toContainEqual({ type: "crm_id", value: "1234" });
    expect(out.identifiers).toContainEqual({ type: "shop_id", value: "S9" });
  });

  it("blocks Segment's junk values case-insensitively, with the rule that matched", () => {
    for (const junk of [
      "null",
      "NULL",
      "undefined",
      "anonymous",
      "-1",
      "0",
      "00000000-0000",
      "[object Object]",
      "  ",
    ]) {
      const out = extractIdentifiers(
        msg({ type: "track", event: "x", userId: junk, anonymousId: "ok-1" }),
        DEFAULT_IDENTITY_RULES,
      );
      expect(out.identifiers, junk).toEqual([{ type: "anonymous_id", value: "ok-1" }]);
      expect(out.blocked, junk).toHaveLength(1);
      expect(out.blocked[0].identifier.type).toBe("user_id");
    }
  });

  it("blocks emails without an @ and over-long values", () => {
    const out = extractIdentifiers(
      msg({ type: "identify", anonymousId: "x".repeat(600), traits: { email: "not-an-email" } }),
      DEFAULT_IDENTITY_RULES,
    );
    expect(out.identifiers).toEqual([]);
    expect(out.blocked.map((b) => b.reason)).toEqual([
      expect.stringMatching(/longer than 512/),
      expect.stringMatching(/email is not an address/),
    ]);
  });

  it("keeps group_id out of the matching keys and reads a group's traits as the company's", () => {
    const out = extractIdentifiers(
      msg({ type: "group", userId: "u1", groupId: "acme", traits: { email: "billing@acme.com" } }),
      DEFAULT_IDENTITY_RULES,
    );
    expect(out.identifiers).toEqual([{ type: "user_id", value: "u1" }]);
    expect(out.attributes).toEqual([{ type: "group_id", value: "acme" }]);
  });

  it("reads alias previousId as an anonymous id and reports it for the store", () => {
    const out = extractIdentifiers(
      msg({ type: "alias", userId: "u1", previousId: "old-anon" }),
      DEFAULT_IDENTITY_RULES,
    );
    expect(out.identifiers).toEqual([
      { type: "user_id", value: "u1" },
      { type: "anonymous_id", value: "old-anon" },
    ]);
    expect(out.previousId).toBe("old-anon");
    const same = extractIdentifiers(msg({ type: "alias", userId: "u1", previousId: "u1" }), DEFAULT_IDENTITY_RULES);
    expect(same.identifiers).toEqual([{ type: "user_id", value: "u1" }]);
    expect(same.previousId).toBeUndefined();
  });

  it("deduplicates an identifier seen in several places", () => {
    const out = extractIdentifiers(
      msg({ type: "identify", userId: "u", traits: { email: "A@b.co" }, context: { traits: { email: "a@B.co" } } }),
      DEFAULT_IDENTITY_RULES,
    );
    expect(out.identifiers.filter((i) => i.type === "email")).toEqual([{ type: "email", value: "a@b.co" }]);
  });
});

describe("normalizeIdentifier", () => {
  it("puts phones in E.164 when the country is known, and refuses national numbers without a default country", () => {
    expect(normalizeIdentifier("phone", "0044 (20) 7946-0000")).toEqual({
      ok: true,
      identifier: { type: "phone", value: "+442079460000" },
    });
    expect(normalizeIdentifier("phone", "+1.415.555.0100")).toEqual({
      ok: true,
      identifier: { type: "phone", value: "+14155550100" },
    });
    expect(normalizeIdentifier("phone", "(415) 555-0100", { defaultCountry: "US" })).toEqual({
      ok: true,
      identifier: { type: "phone", value: "+14155550100" },
    });
    expect(normalizeIdentifier("phone", "(415) 555-0100")).toMatchObject({ ok: false, reason: /no country code/ });
    expect(normalizeIdentifier("phone", "call me")).toMatchObject({ ok: false });
  });

  it("parses a profile ref's parts the way extraction stores them", () => {
    expect(normalizeIdentifier("email", decodeURIComponent("Jane%40Example.com"))).toEqual({
      ok: true,
      identifier: { type: "email", value: "jane@example.com" },
    });
    expect(normalizeIdentifier("Bad Type", "x")).toMatchObject({ ok: false });
    expect(normalizeIdentifier("user_id", "")).toMatchObject({ ok: false });
  });
});
