/** Which destinations take engagement back by webhook, and their inbound URL as shown before it is revealed. */

/**
 * The types whose vendor sends engagement by webhook: those with an inbound source in `workers/sync/inbound/`
 * (`INBOUND` in `workers/sync/registry.ts`). Marketo's engagement is read by its poller; it takes no URL.
 */
const INBOUND_TYPES: ReadonlySet<string> = new Set(["hubspot", "klaviyo", "mailchimp", "webhook"]);

export function takesEngagementWebhook(type: string): boolean {
  return INBOUND_TYPES.has(type);
}

/** The URL with its `secret` shown only as its last 4 characters. */
export function maskSecret(url: string): string {
  return url.replace(/([?&]secret=)([^&#]*)/, (_all, key: string, secret: string) => `${key}…${secret.slice(-4)}`);
}
