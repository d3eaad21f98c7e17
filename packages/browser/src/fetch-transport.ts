import { parseRetryAfter, type Transport } from "@tessera/core";

/**
 * POSTs with `fetch` as `text/plain` (a CORS "simple request": no preflight round trip). Small bodies use
 * `keepalive` so a request in flight survives a navigation. Never rejects: failures are status 0.
 */
export const fetchTransport: Transport = {
  async send(url, body) {
    try {
      const res = await fetch(url, {
        method: "POST",
        body,
        headers: { "Content-Type": "text/plain" },
        keepalive: body.length < 16_000,
      });
      return { status: res.status, retryAfter: parseRetryAfter(res.headers.get("Retry-After")) };
    } catch {
      return { status: 0 };
    }
  },
};

/** Sends a body as the page goes away: `sendBeacon` (a text/plain Blob), else a keepalive fetch. */
export function beacon(url: string, body: string): boolean {
  if (navigator.sendBeacon) return navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }));
  fetch(url, { method: "POST", body, keepalive: true, headers: { "Content-Type": "text/plain" } }).catch(() => {});
  return true;
}
