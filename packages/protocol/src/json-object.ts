import type { JsonObject } from "./messages";
import { isPlainObject } from "./validate";

/**
 * `value` when it is a JSON object, else undefined: for optional parts of a message (`context.device`, …).
 * @example objectOrUndefined(msg.context?.device)?.id
 */
export function objectOrUndefined(value: unknown): JsonObject | undefined {
  return isPlainObject(value) ? value : undefined;
}
