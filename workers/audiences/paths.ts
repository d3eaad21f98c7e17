/** Reading a definition's paths (`items.0.sku`, `$context.page.path`, trait `address.city`) out of JSON. */
import { isPlainObject, type PropertyPath, parsePropertyPath } from "@tessera/protocol";
import type { StoredEvent } from "./profile-facts";

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * The value at `segments` under `root`, or undefined. Only own keys are followed, so `constructor` or `__proto__`
 * in a path finds nothing rather than a prototype's member; a numeric segment indexes an array.
 *
 * @example readPath({ items: [{ sku: "A" }] }, ["items", "0", "sku"]) // "A"
 */
export function readPath(root: unknown, segments: readonly string[]): unknown {
  let here = root;
  for (const segment of segments) {
    if (Array.isArray(here)) {
      if (!ARRAY_INDEX.test(segment)) return undefined;
      here = here[Number(segment)];
    } else if (isPlainObject(here) && Object.hasOwn(here, segment)) {
      here = here[segment];
    } else {
      return undefined;
    }
  }
  return here;
}

/** The value an event property path names: under `properties`, or under the message itself after `$`. */
export function readEventPath(event: StoredEvent, path: PropertyPath): unknown {
  return readPath(path.scope === "message" ? event.message : event.message.properties, path.segments);
}

/** The value of event property path `path` (DESIGN §6) on `event`. */
export function eventProperty(event: StoredEvent, path: string): unknown {
  return readEventPath(event, parsePropertyPath(path));
}

/** The value of trait path `path` (dotted, `$` taken literally) in `traits`. */
export function traitValue(traits: Record<string, unknown>, path: string): unknown {
  return readPath(traits, path.split("."));
}
