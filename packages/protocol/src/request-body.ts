/** Shapes shared by the admin API's request bodies. */
import { z } from "zod";

/** A request body whose unknown fields are refused by name, so a typo (`defintion`) never silently does nothing. */
export function requestBody<T extends z.ZodRawShape>(shape: T) {
  const fields = Object.keys(shape).join(", ") || "none";
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys" ? `unknown field "${issue.keys[0]}" (known: ${fields})` : undefined,
  });
}

/** ISO-8601 time, as every answer writes it. */
export const isoTime = z.string().meta({ description: "ISO-8601 time.", example: "2025-01-31T12:00:00.000Z" });
