/**
 * Tessera's own webhook signature (DESIGN §7), Stripe-style: header `X-Tessera-Signature: t=<unix s>,v1=<hex>` where
 * `v1 = HMAC-SHA256(secret, "<t>.<raw body>")`. Used on what Tessera sends (the `webhook` destination) and checked
 * on what generic senders and Marketo "Call Webhook" send back.
 */

import { concatBytes, hmacSha256, timingSafeEqualText, toHex } from "./hmac";
import { WEBHOOK_TOLERANCE_MS } from "./plugin";

export const TESSERA_SIGNATURE_HEADER = "X-Tessera-Signature";

/** The header value for `body` sent at `nowMs`. */
export async function signTessera(secret: string, body: string | Uint8Array, nowMs: number): Promise<string> {
  const t = Math.floor(nowMs / 1000);
  const mac = await hmacSha256(secret, concatBytes(`${t}.`, body));
  return `t=${t},v1=${toHex(mac)}`;
}

/** Checks a header value against the raw body: the signature, in constant time, and the 5-minute window. */
export async function verifyTessera(
  secret: string,
  header: string | null,
  body: Uint8Array,
  nowMs: number,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (!header) return { ok: false, reason: `missing ${TESSERA_SIGNATURE_HEADER} header` };
  const fields = new Map(
    header.split(",").map((part) => {
      const i = part.indexOf("=");
      return [part.slice(0, i).trim(), part.slice(i + 1).trim()] as const;
    }),
  );
  const t = Number(fields.get("t"));
  const given = fields.get("v1");
  if (!Number.isInteger(t) || !given) return { ok: false, reason: `malformed ${TESSERA_SIGNATURE_HEADER} header` };
  if (Math.abs(nowMs - t * 1000) > WEBHOOK_TOLERANCE_MS)
    return { ok: false, reason: "timestamp outside the 5-minute window" };
  const expected = toHex(await hmacSha256(secret, concatBytes(`${t}.`, body)));
  return (await timingSafeEqualText(given, expected))
    ? { ok: true }
    : { ok: false, reason: "signature does not match" };
}
