/**
 * Paths in definitions (DESIGN §6): `"items.0.sku"` is a dotted path into an event's `properties`; a leading `$`
 * (`"$context.page.path"`, `"$type"`) starts at the event message itself. Trait paths (`"address.city"`) are dotted
 * paths into the profile's traits and take `$` literally, since traits such as Mixpanel's `$email` exist.
 */
import { MAX_DEFINITION_STRING, MAX_PATH_SEGMENTS } from "./audience-limits";

/** Where a path starts and the keys (or array indexes) it walks. */
export interface PropertyPath {
  scope: "properties" | "message";
  segments: string[];
}

/**
 * A checked event property path, split.
 *
 * @example parsePropertyPath("$context.page.path") // { scope: "message", segments: ["context", "page", "path"] }
 */
export function parsePropertyPath(path: string): PropertyPath {
  if (path.startsWith("$")) return { scope: "message", segments: path.slice(1).split(".") };
  return { scope: "properties", segments: path.split(".") };
}

/** Why `input` is not an event property path (`kind: "property"`) or trait path (`kind: "trait"`), if it is not. */
export function pathProblem(input: unknown, kind: "property" | "trait"): string | undefined {
  if (typeof input !== "string" || input === "") {
    return kind === "property"
      ? 'must be a property path such as "channel" or "$context.page.path"'
      : 'must be a trait path such as "plan" or "address.city"';
  }
  if (input.length > MAX_DEFINITION_STRING) return `is longer than the ${MAX_DEFINITION_STRING}-character cap`;
  const segments = kind === "property" ? parsePropertyPath(input).segments : input.split(".");
  if (kind === "property" && input === "$") return '"$" names no field of the event';
  if (segments.some((s) => s === "")) return `${JSON.stringify(input)} has an empty segment`;
  if (segments.length > MAX_PATH_SEGMENTS) {
    return `${JSON.stringify(input)} has more than ${MAX_PATH_SEGMENTS} segments (cap: ${MAX_PATH_SEGMENTS} per path)`;
  }
  return undefined;
}
