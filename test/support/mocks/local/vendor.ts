/** What each local vendor (`klaviyo.ts`, …) is given and tells the runner that prints how to use it. */
import type { Channel, EngagementKind } from "./control";
import type { TesseraClient } from "./tessera";

export interface LocalVendorOptions {
  /** Its port on 127.0.0.1 (0: a free one). */
  port: number;
  tessera: TesseraClient;
  /** How many of its latest requests it keeps for `GET /__mock/requests`. */
  keepRequests: number;
}

export interface LocalVendor {
  /** The vendor's name, as people write it. */
  name: string;
  url: string;
  /** `type` and `config` of the `POST /v1/destinations` body that connects Tessera to this mock. */
  destination: { type: string; config: Record<string, unknown> };
  /** The engagement it reports back, and how it reaches Tessera. */
  channels: Partial<Record<EngagementKind, Channel>>;
  /** Its rate limits, as it enforces them. */
  limits: string;
  stop(): Promise<void>;
}
