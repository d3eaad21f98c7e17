/** Deep merge of JSON objects that can never write to a prototype. */
import { FORBIDDEN_KEYS, isPlainObject, type JsonObject } from "@tessera/protocol";

/**
 * `base` with `own` laid over it, recursively for nested objects (arrays and scalars are replaced whole).
 * Keys such as `__proto__` are skipped, so a merged object never gains a prototype from the input, even if a
 * caller forgot to validate it. Neither argument is modified.
 *
 * @example mergeJson({ library: { name: "x" }, locale: "en" }, { locale: "fr" }) // { library: { name: "x" }, locale: "fr" }
 */
export function mergeJson(base: JsonObject | undefined, own: JsonObject | undefined): JsonObject {
  const out: JsonObject = {};
  if (base) copyInto(out, base);
  if (own) {
    for (const key of Object.keys(own)) {
      if (FORBIDDEN_KEYS.has(key)) continue;
      const value = own[key];
      const under = out[key];
      out[key] = isPlainObject(value) && isPlainObject(under) ? mergeJson(under, value) : value;
    }
  }
  return out;
}

function copyInto(out: JsonObject, from: JsonObject): void {
  for (const key of Object.keys(from)) if (!FORBIDDEN_KEYS.has(key)) out[key] = from[key];
}
