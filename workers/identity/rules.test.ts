import { describe, expect, it } from "vitest";
import { DEFAULT_IDENTITY_RULES, limitFor } from "./rules";

describe("limitFor", () => {
  it("gives a custom identifier type named like an Object property (constructor) the default limit", () => {
    expect(limitFor(DEFAULT_IDENTITY_RULES, "constructor")).toBe(5);
    expect(limitFor({ ...DEFAULT_IDENTITY_RULES, limits: { constructor: 2 } }, "constructor")).toBe(2);
    expect(limitFor(DEFAULT_IDENTITY_RULES, "user_id")).toBe(1);
  });
});
