import { z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { describeIssue, fieldPath } from "./validation-hook";

const reasonOf = (schema: z.ZodType, input: unknown) => {
  const parsed = schema.safeParse(input);
  if (parsed.success) throw new Error("expected a failure");
  return describeIssue(parsed.error);
};

describe("describeIssue", () => {
  it("writes paths as a developer does", () => {
    expect(fieldPath(["limits", "user_id"])).toBe("limits.user_id");
    expect(fieldPath(["priority", 1])).toBe("priority[1]");
    expect(fieldPath([])).toBe("");
  });

  it("names the field before a reason that does not", () => {
    const schema = z.object({ limits: z.record(z.string(), z.int({ error: "must be an integer" })) });
    expect(reasonOf(schema, { limits: { email: 1.5 } })).toBe("limits.email: must be an integer");
  });

  it("shows a reason that already opens with its field as written", () => {
    const schema = z.object({
      name: z.string({ error: '"name" is required' }),
      limit: z
        .string()
        .refine(() => false, "limit must be a whole number")
        .optional(),
    });
    expect(reasonOf(schema, {})).toBe('"name" is required');
    expect(reasonOf(schema, { name: "x", limit: "y" })).toBe("limit must be a whole number");
  });

  it("reports the first issue only, as the checks it replaced did", () => {
    const schema = z.object({ a: z.string({ error: "must be a string" }), b: z.string({ error: "must be a string" }) });
    expect(reasonOf(schema, {})).toBe("a: must be a string");
  });
});
