/**
 * What a local vendor mock needs of the Tessera it reports to: where the webhook of the destination pointing at the
 * mock goes (as a person would copy `webhook_url` into the vendor's settings), and a way to have its pollers run now
 * rather than at the cron's next minute (`wrangler dev`'s `/cdn-cgi/handler/scheduled`, as `npm run dev` runs it).
 *
 * @example
 * const tessera = tesseraClient("http://127.0.0.1:8787", "sk_dev");
 * await tessera.webhookUrl("klaviyo", "http://127.0.0.1:4103"); // "http://127.0.0.1:8787/v1/webhooks/dst_…?secret=…"
 */
import { ControlError } from "./control";

export interface TesseraClient {
  url: string;
  /**
   * The `webhook_url` of the newest `type` destination whose vendor URL (`base_url`, a webhook's `url`) is on
   * `mockUrl`'s port of this machine; `given` when set.
   */
  webhookUrl(type: string, mockUrl: string, given?: string): Promise<string>;
  /** Runs Tessera's every-minute cron, and says what came of it. */
  runCron(): Promise<string>;
}

interface DestinationView {
  type: string;
  config: { base_url?: unknown; url?: unknown };
  webhook_url: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export function tesseraClient(url: string, secretKey: string): TesseraClient {
  const base = url.replace(/\/+$/, "");
  return {
    url: base,

    async webhookUrl(type, mockUrl, given) {
      if (given) return given;
      const unreachable = (why: string) =>
        new ControlError(502, `could not list Tessera's destinations at ${base} (${why}): pass "webhook_url"`);
      let res: Response;
      try {
        res = await fetch(`${base}/v1/destinations`, { headers: { authorization: `Bearer ${secretKey}` } });
      } catch (err) {
        throw unreachable((err as Error).message);
      }
      if (!res.ok) throw unreachable(`${res.status} ${await res.text()}`);
      const { data } = (await res.json()) as { data: DestinationView[] };
      const mine = data.filter((d) => d.type === type && sameServer(d.config.base_url ?? d.config.url, mockUrl));
      const newest = mine.at(-1);
      if (!newest)
        throw new ControlError(
          409,
          `no ${type} destination at ${base} points at this mock (${mockUrl}): create one with the command ` +
            `\`npm run mocks\` printed, or pass "webhook_url"`,
        );
      return newest.webhook_url;
    },

    async runCron() {
      const cron = `${base}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`;
      const later = "Tessera reads it at its cron's next minute";
      try {
        const res = await fetch(cron);
        return res.ok
          ? "Tessera's cron ran now and polled it"
          : `running Tessera's cron failed (${res.status}); ${later}`;
      } catch (err) {
        return `Tessera's cron could not be run (${(err as Error).message}); ${later}`;
      }
    },
  };
}

/** Whether `configured` names the mock's server: the same port on this machine, however the host is spelled. */
function sameServer(configured: unknown, mockUrl: string): boolean {
  if (typeof configured !== "string" || !URL.canParse(configured)) return false;
  const a = new URL(configured);
  const b = new URL(mockUrl);
  return LOOPBACK.has(a.hostname) && LOOPBACK.has(b.hostname) && a.port === b.port;
}
