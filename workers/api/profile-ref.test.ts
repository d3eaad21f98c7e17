import { describe, expect, it } from "vitest";
import { parseProfileRef } from "./profile-ref";

describe("parseProfileRef", () => {
  it("reads a profile id", () => {
    expect(parseProfileRef("prf_0123456789abcdefghjk")).toEqual({
      ok: true,
      ref: { kind: "id", profileId: "prf_0123456789abcdefghjk" },
    });
  });

  it("normalises an email value as the collector does: trimmed and lowercased", () => {
    expect(parseProfileRef("email: Jane@Example.COM ")).toEqual({
      ok: true,
      ref: { kind: "identifier", identifier: { type: "email", value: "jane@example.com" } },
    });
  });

  it("reads user_id and anonymous_id values verbatim, colons included", () => {
    expect(parseProfileRef("user_id:42")).toMatchObject({ ref: { identifier: { type: "user_id", value: "42" } } });
    expect(parseProfileRef("anonymous_id:a:b:C")).toMatchObject({
      ref: { identifier: { type: "anonymous_id", value: "a:b:C" } },
    });
  });

  it("matches the identifier type case-insensitively", () => {
    expect(parseProfileRef("EMAIL:a@b.co")).toMatchObject({ ref: { identifier: { type: "email", value: "a@b.co" } } });
  });

  it("accepts custom identifier types", () => {
    expect(parseProfileRef("loyalty_id:L-1")).toMatchObject({
      ref: { identifier: { type: "loyalty_id", value: "L-1" } },
    });
  });

  it("refuses malformed refs with a reason naming the problem", () => {
    const cases: Array<[string, RegExp]> = [
      ["", /not a profile id or type:value/],
      ["jane@example.com", /not a profile id or type:value/],
      ["prf_", /not a profile id/],
      ["prf_has space", /not a profile id/],
      [":42", /no identifier type/],
      ["email:", /empty email value/],
      ["user_id:   ", /empty user_id value/],
      ["e-mail:x@y.z", /type "e-mail" is invalid/],
      ["1x:abc", /type "1x" is invalid/],
      ["email:not-an-address", /email is not an address/],
      [`user_id:${"x".repeat(600)}`, /longer than 512/],
      ["group_id:acme-1", /group_id: a company that many profiles share/],
      ["Group_ID:acme-1", /never one person's identifier/],
    ];
    for (const [raw, reason] of cases) {
      const parsed = parseProfileRef(raw);
      expect(parsed.ok, raw).toBe(false);
      if (!parsed.ok) expect(parsed.reason, raw).toMatch(reason);
    }
  });
});
