/**
 * What this tab deleted, by a reference of the caller's choosing (a destination id, `audiences:vip`), with the label
 * its list's "Deleted …" note names it by. A list's `?deleted=` is said only through this: words read from the URL
 * alone would let a crafted link put any text in the console's mouth ("Deleted audience Your account is locked.").
 * Kept in the page only, so a reload forgets it.
 */
const labels = new Map<string, string>();

/** Called once the API has deleted what `ref` names, before its list is shown. */
export function rememberDeleted(ref: string, label: string): void {
  labels.set(ref, label);
}

/** The label of `ref` if this tab deleted it. */
export function deletedLabel(ref: string): string | undefined {
  return labels.get(ref);
}
