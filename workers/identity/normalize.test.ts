import type { AcceptedMessage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { extractIdentifiers } from "./extract";
import { DEFAULT_IDENTITY_RULES, type IdentityRules } from "./rules";

const GB: IdentityRules = { ...DEFAULT_IDENTITY_RULES, defaultCountry: "GB" };

/** An identify call carrying `traits`: what `extractIdentifiers` makes of its email and phone. */
function identify(traits: Record<string, unknown>, rules: IdentityRules = DEFAULT_IDENTITY_RULES) {
  const message = {
    type: "identify",
    anonymousId: "anon-1",
    traits,
    context: {},
    messageId: "m1",
    timestamp: "2025-01-01T00:00:00.000Z",
    receivedAt: "2025-01-01T00:00:00.000Z",
  } as unknown as AcceptedMessage;
  const out = extractIdentifiers(message, rules);
  return { ...out, identifiers: out.identifiers.filter((i) => i.type !== "anonymous_id") };
}

describe("email identifiers", () => {
  it.each([
    ["Jane.Doe+news@Example.com", "jane.doe+news@example.com"],
    ["o'brien@mail.eu.example.co.uk", "o'brien@mail.eu.example.co.uk"],
    ["user@xn--bcher-kva.de", "user@xn--bcher-kva.de"],
    ["jürgen@Bücher.de", "jürgen@bücher.de"],
    ["first_last-1@sub-domain.example.io", "first_last-1@sub-domain.example.io"],
    ["taro..@docomo.ne.jp", "taro..@docomo.ne.jp"],
    ["x@a.b.c.d.example", "x@a.b.c.d.example"],
  ])("promotes %s", (raw, value) => {
    const out = identify({ email: raw });
    expect(out.identifiers).toEqual([{ type: "email", value }]);
    expect(out.blocked).toEqual([]);
  });

  it.each([
    ["a@", /nothing after the @/],
    ["<script>@x.com", /character/],
    ["@example.com", /nothing before the @/],
    ["jane doe@example.com", /character/],
    ['"jane"@example.com', /character/],
    ["jane@example", /no dot/],
    ["jane@@example.com", /more than one @/],
    ["jane@exa mple.com", /domain label/],
    ["jane@-example.com", /domain label/],
    ["jane@example-.com", /domain label/],
    ["jane@example..com", /domain label/],
    ["jane@example.com.", /domain label/],
    ["jane@exa_mple.com", /domain label/],
    ["jane@[192.168.0.1]", /domain label/],
    ["jane@192.168.0.1", /ends in a number/],
    ["jane@<b>.com", /domain label/],
    [`${"x".repeat(65)}@example.com`, /longer than 64/],
    [`jane@${"a".repeat(64)}.com`, /domain label/],
    ["no-at-sign", /no @/],
  ])("keeps %s out of the identifiers, with the reason (issue 10, #11)", (raw, why) => {
    const out = identify({ email: raw });
    expect(out.identifiers).toEqual([]);
    expect(out.blocked).toEqual([
      { identifier: { type: "email", value: raw }, reason: expect.stringMatching(/^email is not an address/) },
    ]);
    expect(out.blocked[0].reason).toMatch(why);
  });
});

describe("phone identifiers", () => {
  it("makes a national number with the workspace's default country and the international one the same E.164", () => {
    const forms = ["020 7946 0000", "+44 20 7946 0000", "0044 20 7946 0000", "+44 (0)20 7946-0000"];
    for (const phone of forms) {
      expect(identify({ phone }, GB).identifiers, phone).toEqual([{ type: "phone", value: "+442079460000" }]);
    }
  });

  it("keeps an extension (RFC 3966), so coworkers behind one switchboard are not one person", () => {
    for (const phone of ["020-7946-0000 ext. 12", "+44 20 7946 0000 x12", "+44 20 7946 0000 ext 12"]) {
      expect(identify({ phone }, GB).identifiers, phone).toEqual([{ type: "phone", value: "+442079460000;ext=12" }]);
    }
    expect(identify({ phone: "+44 20 7946 0000 ext. 13" }, GB).identifiers).toEqual([
      { type: "phone", value: "+442079460000;ext=13" },
    ]);
  });

  it("keeps an explicit country code over the default country", () => {
    expect(identify({ phone: "+1 (415) 555-0100" }, GB).identifiers).toEqual([
      { type: "phone", value: "+14155550100" },
    ]);
    expect(identify({ phone: "+33 1 23 45 67 89" }, GB).identifiers).toEqual([
      { type: "phone", value: "+33123456789" },
    ]);
  });

  it("blocks a national number when the workspace has no default country, naming the setting", () => {
    const out = identify({ phone: "020 7946 0000" });
    expect(out.identifiers).toEqual([]);
    expect(out.blocked).toEqual([
      { identifier: { type: "phone", value: "020 7946 0000" }, reason: expect.stringMatching(/default_country/) },
    ]);
    // The international form needs no setting.
    expect(identify({ phone: "+44 20 7946 0000" }).identifiers).toEqual([{ type: "phone", value: "+442079460000" }]);
  });

  it.each([
    ["call me", /not a phone number/],
    ["+44 20 0000", /not a possible number for \+44/],
    ["12", /not a possible number for \+44/],
    ["020 7946 0000 or 020 7946 0001", /not a phone number/],
    ["1-800-FLOWERS", /not a phone number/],
    ["+999 123 456", /not a phone number/],
  ])("blocks the unparseable phone %s with the reason", (phone, why) => {
    const out = identify({ phone }, GB);
    expect(out.identifiers).toEqual([]);
    expect(out.blocked).toHaveLength(1);
    expect(out.blocked[0].reason).toMatch(why);
  });

  it("explains a default country without a numbering plan", () => {
    const out = identify({ phone: "020 7946 0000" }, { ...DEFAULT_IDENTITY_RULES, defaultCountry: "ZZ" });
    expect(out.identifiers).toEqual([]);
    expect(out.blocked[0].reason).toMatch(/default_country ZZ has no phone numbering plan/);
  });
});
