import { describe, expect, it } from "vitest";
import { traitNames } from "./trait-names";

describe("traitNames", () => {
  it("reads comma-separated names, spaces around them ignored, and nothing as none", () => {
    expect(traitNames(" first_name ,city,lifetime_value ")).toEqual({
      ok: true,
      names: ["first_name", "city", "lifetime_value"],
    });
    expect(traitNames("  ")).toEqual({ ok: true, names: [] });
  });

  it("refuses an empty name and a repeat, and takes a name with a space as the API does", () => {
    expect(traitNames("first_name,,city")).toEqual({
      ok: false,
      problem: "An extra comma leaves a name empty: remove it.",
    });
    expect(traitNames("city,")).toMatchObject({ ok: false });
    expect(traitNames("First Name, city")).toEqual({ ok: true, names: ["First Name", "city"] });
    expect(traitNames("city, plan, city")).toEqual({ ok: false, problem: '"city" is listed twice: keep it once.' });
  });

  it("refuses more names than a destination sends", () => {
    const many = Array.from({ length: 51 }, (_, i) => `t${i}`).join(",");
    expect(traitNames(many)).toMatchObject({ ok: false, problem: expect.stringContaining("At most 50") });
  });
});
