/**
 * The builder's label for a JSON path the API's messages name (see field-message.ts): a control's label, with the
 * condition it belongs to named as the controls' own names say it ("Within (condition 2 of group 1)").
 */

import { capitalized, conditionName, filterName } from "./condition-place";
import type { DefinitionKind } from "./definition-builder";

const FORM_FIELDS = new Map([
  ["key", "Key"],
  ["name", "Name"],
]);
const CONDITION_FIELDS = new Map([
  ["event", "Event name"],
  ["within", "Within"],
  ["count", "Count"],
  ["count.op", "Count"],
  ["count.value", "Times"],
  ["trait", "Trait"],
  ["computed", "Computed trait key"],
  ["op", "Operator"],
  ["value", "Value"],
  ["audience", "Audience key"],
]);
const COMPUTED_FIELDS = new Map([
  ["op", "Operation"],
  ["event", "Event name"],
  ["property", "Property"],
  ["within", "Within"],
]);
const FILTER_FIELDS = new Map([
  ["property", "Property"],
  ["op", "Operator"],
  ["value", "Value"],
]);

/** The label of `path` in the builder of `kind`, or undefined for a path it has no control for. */
export function builderFieldLabel(kind: DefinitionKind, path: string): string | undefined {
  const form = FORM_FIELDS.get(path);
  if (form) return form;
  const parts = /^definition((?:\.(?:all|any)\[\d+\]|\.not)*)(?:\.where\[(\d+)\])?(?:\.(.+))?$/.exec(path);
  if (!parts) return undefined;
  // A "not" lends its place to what it negates (condition-place.ts): only group positions count.
  const place = [...parts[1].matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]) + 1);
  const [, , filter, field] = parts;
  if (filter !== undefined) {
    const name = filterName(place, Number(filter));
    if (field === undefined) return capitalized(name);
    const label = FILTER_FIELDS.get(field);
    return label && `${label} (${name})`;
  }
  if (field === undefined) return place.length === 0 ? "Definition" : capitalized(conditionName(place));
  const label = (kind === "computed-traits" ? COMPUTED_FIELDS : CONDITION_FIELDS).get(field);
  return label && (place.length === 0 ? label : `${label} (${conditionName(place)})`);
}
