/**
 * The one walk over a message's JSON tree: forbidden keys, nesting depth, text that is not valid Unicode and a size
 * bound, in a single pass.
 * Hand-written, not a schema, on purpose: it is the hot path (every nested value of up to 2,500 messages per
 * request) and a schema library would copy each object it visits; this walk allocates nothing but path strings.
 */
import { MAX_PROPERTY_DEPTH } from "./limits";

declare global {
  interface String {
    /** ES2024, in every runtime Tessera runs on (workerd, Node 20); declared here because the libs are ES2022. */
    isWellFormed(): boolean;
  }
}

/**
 * Keys that would reach an object's prototype if a later merge copied them by assignment. Only `__proto__` does:
 * `constructor` and `prototype` are ordinary words in customers' data (a race team's constructor, a product
 * prototype) that Segment accepts, and they reach a prototype only through a merge that walks into inherited values,
 * which ours (`mergeJson`: plain objects only, own keys) and every path read (own keys only) never do.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__"]);

/** UTF-16 units of JSON text counted so far (see {@link walk}). */
export interface TreeSize {
  units: number;
}

/**
 * Walks a JSON tree once: the first forbidden key or nesting past {@link MAX_PROPERTY_DEPTH}, as a reason, or null.
 * @example inspectTree({ a: { __proto__: 1 } }, "properties") // 'key "__proto__" is not allowed (at properties.a)'
 */
export function inspectTree(value: unknown, path: string): string | null {
  return walk(value, path, 1, { units: 0 });
}

/**
 * The tree check, also adding to `size.units` the JSON text length the value would have without escapes:
 * a lower bound of its UTF-8 size, and at most 6× below it (`\uXXXX`), so most messages need no serialising.
 * `depth` is the depth of `value` itself (1 for a message).
 */
export function walk(value: unknown, path: string, depth: number, size: TreeSize): string | null {
  const fault = scan(value, depth, size);
  return fault && describeFault(fault, path);
}

/** What went wrong, and where: the path segments from the fault up (they are only built when there is one). */
interface Fault {
  problem: "key" | "depth" | "text";
  /** The forbidden key found. */
  key?: string;
  trail: string[];
}

function scan(value: unknown, depth: number, size: TreeSize): Fault | null {
  if (typeof value === "string") {
    size.units += value.length + 2;
    // A lone surrogate cannot be stored as UTF-8 (D1, SQLite): refused here rather than accepted and then lost.
    return value.isWellFormed() ? null : { problem: "text", trail: [] };
  }
  if (typeof value !== "object" || value === null) {
    size.units += String(value).length;
    return null;
  }
  if (depth > MAX_PROPERTY_DEPTH) return { problem: "depth", trail: [] };
  if (Array.isArray(value)) {
    size.units += 1 + Math.max(1, value.length);
    for (let i = 0; i < value.length; i++) {
      const fault = scan(value[i], depth + 1, size);
      if (fault) {
        fault.trail.push(`[${i}]`);
        return fault;
      }
    }
    return null;
  }
  const keys = Object.keys(value);
  size.units += 1 + Math.max(1, keys.length);
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key)) return { problem: "key", key, trail: [] };
    if (!key.isWellFormed()) return { problem: "text", trail: [`.${JSON.stringify(key)}`] };
    size.units += key.length + 3;
    const fault = scan((value as Record<string, unknown>)[key], depth + 1, size);
    if (fault) {
      fault.trail.push(`.${key}`);
      return fault;
    }
  }
  return null;
}

function describeFault(fault: Fault, base: string): string {
  const path = base + fault.trail.reverse().join("");
  switch (fault.problem) {
    case "depth":
      return `${path} nests deeper than ${MAX_PROPERTY_DEPTH} levels`;
    case "key":
      return `key "${fault.key}" is not allowed (at ${path})`;
    case "text":
      return `${path} is not valid Unicode text (it holds a lone UTF-16 surrogate)`;
  }
}

/** UTF-8 length of a string. Every UTF-16 unit is at most 3 bytes, so text under `limit / 3` needs no counting. */
export function utf8Length(text: string, limit: number): number {
  if (text.length * 3 <= limit) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A surrogate pair is 2 units and 4 bytes, so each half adds one.
    if (code >= 0xd800 && code <= 0xdfff) bytes += 1;
    else if (code >= 0x800) bytes += 2;
    else if (code >= 0x80) bytes += 1;
  }
  return bytes;
}
