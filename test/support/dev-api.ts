/**
 * Calling a dev server as a user does: the admin and profile API with the secret key (Bearer), ingestion with the
 * write key (Basic, like Segment's clients).
 */
import { expect } from "vitest";
import { fetchDev } from "./dev-proxy";
import type { DevServer } from "./dev-server";

/**
 * A JSON call with the secret key; the body parsed when there is one. One that changes something carries an
 * `Idempotency-Key`, so its resend after a dropped connection ({@link fetchDev}) runs it once.
 */
export async function secretApi<T>(
  server: DevServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetchDev(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.secretKey}`,
      "content-type": "application/json",
      ...(method === "GET" ? {} : { "idempotency-key": crypto.randomUUID() }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/**
 * Sends `messages` as one batch with `sentAt` = the real send time, as Segment's clients do: the collector's
 * clock-skew correction (DESIGN §3) then keeps each backdated `timestamp` as given, give or take the transit.
 * Expects every message accepted.
 */
export async function sendBatch(server: DevServer, messages: object[]): Promise<void> {
  const res = await fetchDev(`${server.url}/v1/batch`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${server.writeKey}:`).toString("base64")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ batch: messages, sentAt: new Date().toISOString() }),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ success: true, accepted: messages.length, rejected: [] });
}
