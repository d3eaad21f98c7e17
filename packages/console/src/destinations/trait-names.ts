/**
 * The "Traits sent" field's comma-separated names, checked before they are saved. The API lists no trait keys (a
 * profile's traits are whatever its `identify` calls sent), so a name cannot be checked against the workspace's: only
 * its form is: an empty name (an extra comma) and a repeat (a name pasted twice) are slips. A name with a space is
 * taken, as the API takes it: `identify` calls may send `"First Name"`, and a destination saved through the API with
 * one must stay editable here.
 */

// The API's limits (`MAX_DESTINATION_TRAITS` and the trait key's in packages/protocol's destinations.ts), copied: the
// protocol's index would bring its schemas, zod and all, into the console's bundle.
const MAX_DESTINATION_TRAITS = 50;
const MAX_NAME = 200;

export type TraitNames = { ok: true; names: string[] } | { ok: false; problem: string };

/**
 * @example traitNames("first_name, city") // { ok: true, names: ["first_name", "city"] }
 * @example traitNames("city, city") // { ok: false, problem: '"city" is listed twice: keep it once.' }
 */
export function traitNames(text: string): TraitNames {
  if (text.trim() === "") return { ok: true, names: [] };
  const names = text.split(",").map((name) => name.trim());
  const seen = new Set<string>();
  for (const name of names) {
    if (name === "") return { ok: false, problem: "An extra comma leaves a name empty: remove it." };
    if (name.length > MAX_NAME) return { ok: false, problem: `A trait name can be at most ${MAX_NAME} characters.` };
    if (seen.has(name)) return { ok: false, problem: `"${name}" is listed twice: keep it once.` };
    seen.add(name);
  }
  if (names.length > MAX_DESTINATION_TRAITS) {
    return { ok: false, problem: `At most ${MAX_DESTINATION_TRAITS} traits can be sent; this lists ${names.length}.` };
  }
  return { ok: true, names };
}
