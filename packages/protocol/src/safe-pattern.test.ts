import { describe, expect, it } from "vitest";
import { DEFAULT_BLOCKED_VALUES } from "./identifier-values";
import { blockedValueMatcher } from "./safe-pattern";

describe("blockedValueMatcher", () => {
  it("names the first blocked value a value matches, case-insensitively, or null", () => {
    const blocked = blockedValueMatcher(DEFAULT_BLOCKED_VALUES);
    expect(blocked("NULL")).toBe("^null$");
    expect(blocked("000")).toBe("^[0-]*$");
    expect(blocked("")).toBe("^[0-]*$");
    expect(blocked("[object object]")).toBe("^\\[object Object\\]$");
    expect(blocked("jane@example.com")).toBeNull();
    expect(blocked("-10")).toBeNull();
  });

  it("refuses a pattern RE2 cannot compile unless told what to use instead", () => {
    expect(() => blockedValueMatcher(["^(?=x)"])).toThrow(SyntaxError);
    const skipped: string[] = [];
    const blocked = blockedValueMatcher(["^(?=x)", "^test$"], (source) => {
      skipped.push(source);
      return { test: () => false };
    });
    expect(skipped).toEqual(["^(?=x)"]);
    expect(blocked("x")).toBeNull();
    expect(blocked("TEST")).toBe("^test$");
  });
});
