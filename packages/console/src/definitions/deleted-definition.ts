/**
 * The audiences and computed traits this tab deleted. The list's `?deleted=<key>` is said only for one of them: a key
 * read from the URL alone would let a crafted link put any words in the console's mouth ("Deleted audience Your
 * account is locked."), and a key can be any text the API accepts.
 */
import type { DefinitionKind } from "./definition-builder";

const deleted = new Set<string>();

/** Called once the API has deleted `key`, before the list is shown. */
export function rememberDeleted(kind: DefinitionKind, key: string): void {
  deleted.add(`${kind}:${key}`);
}

/**
 * What the list says of `?deleted=`: the key when this tab deleted it, else nothing.
 *
 * @example deletedDefinition("audiences", useLocation().query.deleted) // "vip" once this tab deleted vip
 */
export function deletedDefinition(kind: DefinitionKind, key: string | undefined): string | undefined {
  return key !== undefined && deleted.has(`${kind}:${key}`) ? key : undefined;
}
