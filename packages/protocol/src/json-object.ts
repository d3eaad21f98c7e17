/** JSON values as they arrive on the wire, and the passthrough schema for the free-form objects messages carry. */
import { z } from "zod";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `value` when it is a JSON object, else undefined: for optional parts of a message (`context.device`, …).
 * @example objectOrUndefined(msg.context?.device)?.id
 */
export function objectOrUndefined(value: unknown): JsonObject | undefined {
  return isPlainObject(value) ? value : undefined;
}

/**
 * What the OpenAPI generator prints for a free-form object: the schema itself is a custom check the generator
 * cannot render, so this metadata replaces it (zod-to-openapi uses `type` from metadata as the whole schema).
 */
export const JSON_OBJECT_DOC = { type: "object", additionalProperties: true } as const;

/**
 * A free-form JSON object (`properties`, `traits`, `context`, `integrations`, profile traits).
 * Deliberately shallow: it checks "is an object" and hands back the same reference, because copying every nested
 * object of every message is what made schema validation slow; the tree walk in `validate.ts` checks the contents.
 *
 * @example JsonObject.parse({ plan: "pro" }) // the same object
 */
export const JsonObject = z
  .custom<JsonObject>(isPlainObject, { error: (issue) => `expected a JSON object, got ${describeValue(issue.input)}` })
  .meta({ id: "JsonObject", description: "Any JSON object.", ...JSON_OBJECT_DOC });

/** A value as a reason names it: "a string", "an array", "null", "NaN", "nothing" (a missing field). */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
