import { describe, expect, it } from "vitest";
import { normalizeIdentifier, normalizePhone } from "./message-identifiers";

describe("normalizePhone", () => {
  it.each([
    ["009 1 415 555 0100", "CO", "+14155550100"],
    ["0011 44 20 7946 0000", "AU", "+442079460000"],
    ["010 44 20 7946 0000", "JP", "+442079460000"],
    ["011 44 20 7946 0000", "US", "+442079460000"],
    ["0014 44 20 7946 0000", "BR", "+442079460000"],
    ["009 57 601 234 5678", "CO", "+576012345678"],
  ])("reads %s dialled out of %s with its own international prefix as %s", (raw, country, e164) => {
    expect(normalizePhone(raw, country)).toEqual({ ok: true, e164 });
  });

  it.each([
    [undefined, "+442079460000"],
    ["GB", "+442079460000"],
    ["US", "+442079460000"],
    ["AU", "+442079460000"],
    ["JP", "+442079460000"],
    ["KR", "+442079460000"],
    ["CO", "+442079460000"],
  ])("reads 0044 20 7946 0000 as +44 with default country %s", (country, e164) => {
    expect(normalizePhone("0044 20 7946 0000", country)).toEqual({ ok: true, e164 });
  });

  it.each([
    ["0057 310 123 4567", "CO", "+573101234567"],
    ["0055 11 98765 4321", "BR", "+5511987654321"],
    ["0082 10 1234 5678", "KR", "+821012345678"],
  ])("reads %s as the workspace's own country when %s's prefix also starts with 00", (raw, country, e164) => {
    expect(normalizePhone(raw, country)).toEqual({ ok: true, e164 });
  });

  it("refuses a number too short for the country its prefix dials, naming that country", () => {
    expect(normalizePhone("0011 44 20 0000", "AU")).toEqual({
      ok: false,
      reason: "phone is not a possible number for +44",
    });
  });

  it("gives the identifier the same E.164 as the number written with +", () => {
    expect(normalizeIdentifier("phone", "009 1 (415) 555-0100", { defaultCountry: "CO" })).toEqual(
      normalizeIdentifier("phone", "+1 415 555 0100"),
    );
  });
});
