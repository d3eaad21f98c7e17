/** Every destination type Tessera can sync to, by the `type` a destination is created with. */
import { webhook } from "./destinations/webhook";
import type { DestinationPlugin } from "./plugin";

const PLUGINS: Record<string, DestinationPlugin<never>> = {
  webhook: webhook as DestinationPlugin<never>,
};

/** The plugin of a destination type, or undefined for an unknown type. */
export function pluginFor(type: string): DestinationPlugin<Record<string, unknown>> | undefined {
  return Object.hasOwn(PLUGINS, type) ? (PLUGINS[type] as DestinationPlugin<Record<string, unknown>>) : undefined;
}

/** The destination types, for validation messages. */
export const DESTINATION_TYPES: readonly string[] = Object.keys(PLUGINS);
