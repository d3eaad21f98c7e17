/**
 * The vendor mocks as `npm run mocks` runs them (scripts/mocks.mjs bundles this file): HubSpot, Mailchimp, Klaviyo,
 * Marketo and a webhook endpoint, each on its port of 127.0.0.1 with the vendor's real rate limits, each with the
 * `/__mock/` routes of `control.ts` to look at what Tessera synced and to report engagement back to the Tessera at
 * `tesseraUrl`.
 *
 * @example
 * const { vendors, stop } = await startLocalVendors({ tesseraUrl: "http://127.0.0.1:8787", secretKey: "sk_dev", ports: {} });
 * vendors[2].destination; // { type: "klaviyo", config: { api_key: "pk_test", base_url: "http://127.0.0.1:4103", … } }
 */
import { startLocalHubSpot } from "./hubspot";
import { startLocalKlaviyo } from "./klaviyo";
import { startLocalMailchimp } from "./mailchimp";
import { startLocalMarketo } from "./marketo";
import { startLocalReceiver } from "./receiver";
import { tesseraClient } from "./tessera";
import type { LocalVendor, LocalVendorOptions } from "./vendor";

export type { LocalVendor } from "./vendor";

const VENDORS = {
  hubspot: startLocalHubSpot,
  mailchimp: startLocalMailchimp,
  klaviyo: startLocalKlaviyo,
  marketo: startLocalMarketo,
  webhook: startLocalReceiver,
} satisfies Record<string, (options: LocalVendorOptions) => Promise<LocalVendor>>;

export type VendorKey = keyof typeof VENDORS;

/** Each vendor's port when none is given. */
export const DEFAULT_PORTS: Record<VendorKey, number> = {
  hubspot: 4101,
  mailchimp: 4102,
  klaviyo: 4103,
  marketo: 4104,
  webhook: 4105,
};

export interface LocalVendorsOptions {
  /** The Tessera the vendors report engagement to. */
  tesseraUrl: string;
  /** Its secret key, to find the destination whose `webhook_url` a vendor's webhook goes to. */
  secretKey: string;
  /** Ports replacing {@link DEFAULT_PORTS} (0: a free one). */
  ports: Partial<Record<VendorKey, number>>;
  /** How many requests each keeps for `GET /__mock/requests` (default 1,000). */
  keepRequests?: number;
}

/** Starts every vendor; if one cannot (its port is taken), those started are stopped and the error is thrown. */
export async function startLocalVendors(
  options: LocalVendorsOptions,
): Promise<{ vendors: Array<LocalVendor & { key: VendorKey }>; stop(): Promise<void> }> {
  const tessera = tesseraClient(options.tesseraUrl, options.secretKey);
  const keepRequests = options.keepRequests ?? 1000;
  const started = await Promise.allSettled(
    (Object.keys(VENDORS) as VendorKey[]).map(async (key) => ({
      key,
      ...(await VENDORS[key]({ port: options.ports[key] ?? DEFAULT_PORTS[key], tessera, keepRequests })),
    })),
  );
  const vendors = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const stop = async () => {
    await Promise.all(vendors.map((v) => v.stop()));
  };
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { vendors, stop };
}
