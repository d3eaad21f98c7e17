/**
 * Every destination type Tessera can sync to, by the `type` a destination is created with: its plugin (what is
 * sent), its inbound source (webhooks it receives) and its poller (engagement read on cron), where it has them.
 */
import { hubspot } from "./destinations/hubspot";
import { klaviyo } from "./destinations/klaviyo";
import { mailchimp } from "./destinations/mailchimp";
import { marketo } from "./destinations/marketo";
import { webhook } from "./destinations/webhook";
import { hubspotInbound } from "./inbound/hubspot";
import { hubspotPoller } from "./inbound/hubspot-poller";
import { klaviyoInbound } from "./inbound/klaviyo";
import { mailchimpInbound } from "./inbound/mailchimp";
import { mailchimpPoller } from "./inbound/mailchimp-poller";
import { marketoPoller } from "./inbound/marketo-poller";
import { tesseraInbound } from "./inbound/tessera";
import type { DestinationPlugin, EngagementPoller, InboundSource } from "./plugin";

type AnyPlugin = DestinationPlugin<Record<string, unknown>>;
type AnyInbound = InboundSource<Record<string, unknown>>;
type AnyPoller = EngagementPoller<Record<string, unknown>>;

const PLUGINS: Record<string, AnyPlugin> = {
  hubspot: hubspot as unknown as AnyPlugin,
  klaviyo: klaviyo as unknown as AnyPlugin,
  mailchimp: mailchimp as unknown as AnyPlugin,
  marketo: marketo as unknown as AnyPlugin,
  webhook: webhook as unknown as AnyPlugin,
};

const INBOUND: Record<string, AnyInbound> = {
  hubspot: hubspotInbound as unknown as AnyInbound,
  klaviyo: klaviyoInbound as unknown as AnyInbound,
  mailchimp: mailchimpInbound as unknown as AnyInbound,
  // Generic senders sign with Tessera's own signature, and so does whatever relays Marketo's "Call Webhook" (DESIGN
  // §7): Marketo itself sends static headers only and cannot compute an HMAC, so its engagement also arrives through
  // its poller. Marketo's config has no secret of its own: the one in the destination's `webhook_url` signs.
  marketo: tesseraInbound as unknown as AnyInbound,
  webhook: tesseraInbound as unknown as AnyInbound,
};

const POLLERS: Record<string, AnyPoller> = {
  hubspot: hubspotPoller as unknown as AnyPoller,
  mailchimp: mailchimpPoller as unknown as AnyPoller,
  marketo: marketoPoller as unknown as AnyPoller,
};

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
