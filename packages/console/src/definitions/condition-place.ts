/**
 * Where a condition sits in the builder, counted as people count, for the names of its controls: "Remove condition 2
 * of group 1" rather than the JSON path `definition.all[0].all[1]`, which means nothing to the marketer a screen reader
 * or voice control reads it to. The numbers are shown beside each condition too, so what is heard can be found.
 *
 * A place is the 1-based position in each group on the way down: `[]` the top level, `[2]` its second condition,
 * `[1, 2]` the second condition of the group that is the top level's first. A "not" lends its place to the condition
 * it negates, which has no controls of its own to tell apart from the not's.
 */
export type Place = readonly number[];

/** "1.2": how a place is written beside its condition; "" at the top level. */
export const placeNumber = (place: Place) => place.join(".");

/** "condition 2", "condition 2 of group 1"; "the condition" at the top level. */
export function conditionName(place: Place): string {
  if (place.length === 0) return "the condition";
  const own = `condition ${place[place.length - 1]}`;
  return place.length === 1 ? own : `${own} of group ${placeNumber(place.slice(0, -1))}`;
}

/** "group 1.2"; "the top-level group" at the top level. */
export const groupName = (place: Place) => (place.length === 0 ? "the top-level group" : `group ${placeNumber(place)}`);

/** "property filter 1 of condition 2"; "property filter 1" when the filtered condition is the top level. */
export const filterName = (place: Place, index: number) =>
  place.length === 0 ? `property filter ${index + 1}` : `property filter ${index + 1} of ${conditionName(place)}`;

/** The name as a label starts: "Property filter 1 of condition 2". */
export const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
