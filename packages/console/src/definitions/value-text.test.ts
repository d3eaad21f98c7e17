import { describe, expect, it } from "vitest";
import { kindForOp, parseValueAs, valueKind, valueText } from "./value-text";

describe("parseValueAs", () => {
  it("keeps text exactly as typed: store ids, zip codes and words that look like numbers or booleans", () => {
    for (const text of ["0042", "42", "1e3", "42.0", "true", "false", " 7 ", "[pos]", ""]) {
      expect(parseValueAs(text, "text")).toEqual({ ok: true, value: text });
    }
  });

  it("reads a number only when the user compares as a number, and says when the text is not one", () => {
    expect(parseValueAs("42.0", "number")).toEqual({ ok: true, value: 42 });
    expect(parseValueAs("-1.5e3", "number")).toEqual({ ok: true, value: -1500 });
    for (const text of ["", "4x", "0x10", "Infinity", "1,5"]) expect(parseValueAs(text, "number").ok).toBe(false);
  });

  it("reads true/false and JSON lists only when chosen", () => {
    expect(parseValueAs("true", "boolean")).toEqual({ ok: true, value: true });
    expect(parseValueAs("yes", "boolean").ok).toBe(false);
    expect(parseValueAs('["pos","0042"]', "list")).toEqual({ ok: true, value: ["pos", "0042"] });
    expect(parseValueAs('{"a":1}', "list").ok).toBe(false);
  });
});

describe("valueKind", () => {
  it("shows a saved value's kind, so reading it back into the field round-trips", () => {
    for (const value of ["0042", 42, true, ["pos"]]) {
      expect(parseValueAs(valueText(value), valueKind(value))).toEqual({ ok: true, value });
    }
  });

  it("takes an ordering's value as a number and `in`'s as a list; other operators leave the choice to the user", () => {
    expect(["gt", "gte", "lt", "lte"].map(kindForOp)).toEqual(["number", "number", "number", "number"]);
    expect(kindForOp("in")).toBe("list");
    expect(["eq", "neq", "contains", "starts_with", "exists", undefined].map(kindForOp)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
