/**
 * The "Traits sent" field's comma-separated names, checked before they are saved. The API lists no trait keys (a
 * profile's traits are whatever its `identify` calls sent), so a name cannot be checked against the workspace's: only
 * its form is. The API itself takes any non-empty name; a space or a repeat is refused here because in this field it
 * is almost always a slip ("first name" for `first_name`, a name pasted twice), which would sync nothing unnoticed.
 */

// The API's limits (`MAX_DESTINATION_TRAITS` and the trait key's in packages/protocol's destinations.ts), copied: the
// protocol's index would bring its schemas, zod and all, into the console's bundle.
const MAX_DESTINATION_TRAITS = 50;
const MAX_NAME = 200;

export type TraitNames = { ok: true; names: string[] } | { ok: false; problem: string };

/**
 * @example traitNames("first_name, city") // { ok: true, names: ["first_name", "city"] }
 * @example traitNames("first name") // { ok: false, problem: '"first name" has a space: … did you mean first_name?' }
 */
export function traitNames(text: string): TraitNames {
  if (text.trim() === "") return { ok: true, names: [] };
  const names = text.split(",").map((name) => name.trim());
  const seen = new Set<string>();
  for (const name of names) {
    if (name === "") return { ok: false, problem: "An extra comma leaves a name empty: remove it." };
    if (/\s/.test(name)) {
      return {
        ok: false,
        problem: `"${name}" has a space: trait names are written without one. Did you mean ${name.replace(/\s+/g, "_")}? Separate names with commas.`,
      };
    }
    if (name.length > MAX_NAME) return { ok: false, problem: `A trait name can be at most ${MAX_NAME} characters.` };
    if (seen.has(name)) return { ok: false, problem: `"${name}" is listed twice: keep it once.` };
    seen.add(name);
  }
  if (names.length > MAX_DESTINATION_TRAITS) {
    return { ok: false, problem: `At most ${MAX_DESTINATION_TRAITS} traits can be sent; this lists ${names.length}.` };
  }
  return { ok: true, names };
}
