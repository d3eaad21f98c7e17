/**
 * Every destination type Tessera can sync to, by the `type` a destination is created with: its plugin (what is
 * sent), its inbound source (webhooks it receives) and its poller (engagement read on cron), where it has them.
 */
import { webhook } from "./destinations/webhook";
import { tesseraInbound } from "./inbound/tessera";
import type { DestinationPlugin, EngagementPoller, InboundSource } from "./plugin";

type AnyPlugin = DestinationPlugin<Record<string, unknown>>;
type AnyInbound = InboundSource<Record<string, unknown>>;
type AnyPoller = EngagementPoller<Record<string, unknown>>;

const PLUGINS: Record<string, AnyPlugin> = {
  webhook: webhook as unknown as AnyPlugin,
};

const INBOUND: Record<string, AnyInbound> = {
  // Generic senders sign with Tessera's own signature.
  webhook: tesseraInbound as unknown as AnyInbound,
};

const POLLERS: Record<string, AnyPoller> = {};

const lookup = <T>(table: Record<string, T>, type: string): T | undefined =>
  Object.hasOwn(table, type) ? table[type] : undefined;

/** The plugin of a destination type, or undefined for an unknown type. */
export function pluginFor(type: string): AnyPlugin | undefined {
  return lookup(PLUGINS, type);
}

/** How a destination type's webhooks are verified and read, or undefined when it sends none. */
export function inboundFor(type: string): AnyInbound | undefined {
  return lookup(INBOUND, type);
}

/** The engagement poller of a destination type, or undefined when its engagement arrives by webhook only. */
export function pollerFor(type: string): AnyPoller | undefined {
  return lookup(POLLERS, type);
}

/** The destination types, for validation messages. */
export const DESTINATION_TYPES: readonly string[] = Object.keys(PLUGINS);

/** The types with a poller, for the cron. */
export const POLLED_TYPES: readonly string[] = Object.keys(POLLERS);
