/**
 * The audiences and computed traits this tab deleted (see `deleted-this-tab.ts`): a key read from the URL alone could
 * be any text the API accepts.
 */
import { deletedLabel, rememberDeleted as remember } from "../deleted-this-tab";
import type { DefinitionKind } from "./definition-builder";

/** Called once the API has deleted `key`, before the list is shown. */
export function rememberDeleted(kind: DefinitionKind, key: string): void {
  remember(`${kind}:${key}`, key);
}

/**
 * What the list says of `?deleted=`: the key when this tab deleted it, else nothing.
 *
 * @example deletedDefinition("audiences", useLocation().query.deleted) // "vip" once this tab deleted vip
 */
export function deletedDefinition(kind: DefinitionKind, key: string | undefined): string | undefined {
  return key === undefined ? undefined : deletedLabel(`${kind}:${key}`);
}
