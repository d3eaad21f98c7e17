/**
 * Fixtures of the sync engine's tests: a destination row written straight into D1 (as the admin API stores it), a
 * customer's webhook endpoint to point it at, and a vendor's signed webhook to its route.
 */
import { env } from "cloudflare:workers";
import { orm } from "../../d1/client";
import { newId } from "../../d1/ids";
import { destinations } from "../../d1/schema";
import type { WebhookEvent } from "../sync/destinations/webhook";
import { hmacSha256, toBase64 } from "../sync/hmac";
import { api } from "./store-messages";

export async function insertDestination(
  workspaceId: string,
  d: { type: string; config: Record<string, unknown>; audiences: string[]; traits?: string[]; enabled?: boolean },
): Promise<string> {
  const id = newId("dst");
  const now = Date.now();
  await orm(env.DB)
    .insert(destinations)
    .values({
      id,
      workspaceId,
      type: d.type,
      name: `${d.type} test`,
      config: JSON.stringify(d.config),
      audiences: JSON.stringify(d.audiences),
      traits: JSON.stringify(d.traits ?? []),
      enabled: d.enabled ?? true,
      inboundSecret: newId("whsec"),
      createdAt: now,
      updatedAt: now,
    });
  return id;
}

/**
 * The customer's endpoint: the Node-side receiver of vitest.config.ts (outbound requests to receiver.test go there,
 * also from a Durable Object's alarm). Each call gets its own path; `answers` say how the calls are answered in turn
 * (the last one repeating).
 */
export async function webhookReceiver(
  ...answers: Array<number | { status: number; headers?: Record<string, string> }>
) {
  const path = `/hook-${crypto.randomUUID()}`;
  const list = answers.map((a) => (typeof a === "number" ? { status: a } : a));
  await fetch(`http://receiver.test/__mock/answers?path=${path}`, { method: "POST", body: JSON.stringify(list) });
  return {
    url: `http://receiver.test${path}`,
    /** From now on the endpoint holds each call `holdMs` and answers `503` to one beyond `inFlight` held at once. */
    async carries(limit: { inFlight: number; holdMs: number }): Promise<void> {
      await fetch(`http://receiver.test/__mock/capacity?path=${path}`, { method: "POST", body: JSON.stringify(limit) });
    },
    /** The most calls the endpoint held at once (with {@link carries}). */
    async peak(): Promise<number> {
      return ((await (await fetch(`http://receiver.test/__mock/peak?path=${path}`)).json()) as { peak: number }).peak;
    },
    async received(): Promise<Array<{ event: WebhookEvent; signature: string | null; raw: string }>> {
      const res = await fetch(`http://receiver.test/__mock/requests?path=${path}`);
      const rows = (await res.json()) as Array<{ headers: Record<string, string>; body: string }>;
      return rows.map((r) => ({
        event: JSON.parse(r.body),
        signature: r.headers["x-tessera-signature"] ?? null,
        raw: r.body,
      }));
    },
  };
}

/**
 * Retries `check` until it passes, within 10 s (generous: the machine may be busy): a drain runs in the destination
 * object's own alarm, beside the test.
 */
export async function eventually<T>(check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * A HubSpot app webhook to destination `destinationId`'s route, signed as HubSpot signs (`X-HubSpot-Signature-v3`:
 * base64 HMAC-SHA256 of method, URL, raw body and the millisecond timestamp) with the app's `clientSecret`.
 */
export async function sendHubSpotWebhook(destinationId: string, body: string, clientSecret: string): Promise<Response> {
  const path = `/v1/webhooks/${destinationId}`;
  const timestamp = String(Date.now());
  const signature = toBase64(await hmacSha256(clientSecret, `POST${`http://tessera.test${path}`}${body}${timestamp}`));
  return api(path, undefined, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-hubspot-signature-v3": signature,
      "x-hubspot-request-timestamp": timestamp,
    },
    body,
  });
}
