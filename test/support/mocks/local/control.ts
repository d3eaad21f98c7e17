/**
 * The `/__mock/` routes a person drives a local vendor mock with (`npm run mocks`), beside the frame's own
 * (`requests`, `faults`, `reset`):
 *
 * - `GET /__mock/lists`: each list the vendor holds, by name, with its members' emails;
 * - `GET /__mock/contacts`: the contacts as the vendor stores them;
 * - `POST /__mock/engagement {email, event, campaign?, link?, webhook_url?}`: the contact had an email event (`event`
 *   one of {@link ENGAGEMENT_KINDS}), and the vendor reports it to Tessera as it really does — each vendor's adapter
 *   (`hubspot.ts`, …) calls the mock's own emitter or feed, and says how in its answer.
 *
 * @example
 * // curl -s localhost:4103/__mock/engagement -d '{"email":"ann@example.com","event":"opened"}'
 * // → {"delivered":"webhook","to":"http://127.0.0.1:8787/v1/webhooks/dst_…","status":200,"answer":{"stored":1,…}}
 */
import type { Context, Hono } from "hono";

/** Tessera's own short names of the Segment email events (workers/sync/inbound/tessera.ts). */
export const ENGAGEMENT_KINDS = ["delivered", "opened", "clicked", "bounced", "spam", "unsubscribed"] as const;
export type EngagementKind = (typeof ENGAGEMENT_KINDS)[number];

/** How a vendor gets an engagement to Tessera: a push to the destination's `webhook_url`, or its poller's feed. */
export type Channel = "webhook" | "poll";

export interface EngagementRequest {
  email: string;
  event: EngagementKind;
  /** The campaign (or email) the event belongs to, in the vendor's own terms. */
  campaign?: string;
  /** The link clicked (`clicked`). */
  link: string;
  /** Where a webhook goes; left out, the Tessera destination that points at this mock is found. */
  webhook_url?: string;
}

/** A refusal of a control request, answered as `{error}` with its status. */
export class ControlError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 502,
    message: string,
  ) {
    super(message);
  }
}

export interface ControlRoutes {
  lists(): Record<string, string[]>;
  contacts(): unknown[];
  /** The engagement this vendor reports, and how. */
  channels: Partial<Record<EngagementKind, Channel>>;
  /** Reports `request` to Tessera; answers what was sent and what Tessera said (`ok: false` when it refused). */
  report(request: EngagementRequest): Promise<{ ok: boolean } & Record<string, unknown>>;
}

/** Adds the routes of the module's summary to `app`. */
export function defineControlRoutes(app: Hono, routes: () => ControlRoutes): void {
  app.get("/__mock/lists", (c) => c.json(routes().lists()));
  app.get("/__mock/contacts", (c) => c.json(routes().contacts()));
  app.post("/__mock/engagement", async (c) => {
    const { channels, report } = routes();
    try {
      const { ok, ...answer } = await report(await engagementRequest(c, channels));
      return c.json(answer, ok ? 200 : 502);
    } catch (err) {
      // Caught here, not in `app.onError`: the app is the vendor's, and its error handler is the vendor's own.
      if (err instanceof ControlError) return c.json({ error: err.message }, err.status);
      throw err;
    }
  });
}

async function engagementRequest(c: Context, channels: ControlRoutes["channels"]): Promise<EngagementRequest> {
  const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  const supported = Object.entries(channels).map(([kind, channel]) => `${kind} (${channel})`);
  const usage = `send {"email":"…","event":"opened"}; this vendor reports ${supported.join(", ")}`;
  if (typeof body !== "object" || body === null) throw new ControlError(400, `not a JSON object: ${usage}`);
  const { email, event, campaign, link, webhook_url } = body;
  if (typeof email !== "string" || !email.includes("@")) throw new ControlError(400, `"email" is missing: ${usage}`);
  if (typeof event !== "string" || !Object.hasOwn(channels, event))
    throw new ControlError(400, `"event" ${JSON.stringify(event)} is not one this vendor reports: ${usage}`);
  for (const [name, value] of Object.entries({ campaign, link, webhook_url }))
    if (value !== undefined && typeof value !== "string") throw new ControlError(400, `"${name}" must be text`);
  return {
    email: email.trim().toLowerCase(),
    event: event as EngagementKind,
    campaign: campaign as string | undefined,
    link: (link as string | undefined) ?? "https://example.com/offer",
    webhook_url: webhook_url as string | undefined,
  };
}

/** A `webhook_url` answer's status and body, as the control route hands them back. */
export async function tesseraAnswer(url: string, res: Response): Promise<{ ok: boolean } & Record<string, unknown>> {
  const text = await res.text();
  let answer: unknown = text;
  try {
    answer = JSON.parse(text);
  } catch {}
  return { ok: res.ok, delivered: "webhook", to: url, status: res.status, answer };
}
