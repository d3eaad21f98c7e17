/**
 * Calls to a platform started by `wrangler dev` (test/support/dev-server.ts) as a careful client makes them: wrangler's
 * local proxy answers `503 Your worker restarted mid-request` to a POST it forwarded over a pooled connection just as
 * that connection's 5 s keep-alive ran out (workers-sdk#14641: nothing restarted, and the Worker never saw the
 * request). Segment's clients and ours send such a call again; so do these, once, so an end-to-end test fails on what
 * Tessera answered and not on the local proxy's timing (CI lost a run to it).
 */

import type { APIResponse, Route } from "playwright-core";

/** The proxy's own answer, which carries no Tessera error envelope. */
const PROXY_DROPPED = /^Your worker restarted mid-request/;

/** How long before a dropped call is sent again, as the console waits. */
const RESEND_DELAY_MS = 250;

/**
 * `fetch`, sent once more when the local proxy dropped the call. `init.body` must be resendable (a string). Give a
 * call that changes something through the secret-key API an `Idempotency-Key`: then it runs once even if it had run.
 *
 * @example const res = await fetchDev(`${server.url}/v1/batch`, { method: "POST", headers, body });
 */
export async function fetchDev(url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, init);
  if (res.status !== 503 || !PROXY_DROPPED.test(await res.clone().text())) return res;
  await new Promise((resolve) => setTimeout(resolve, RESEND_DELAY_MS));
  return fetch(url, init);
}

/**
 * The answer to a read a Playwright route intercepted (`route.fetch()`), asked once more when the connection to the
 * local server was reset: Playwright's client reused a pooled connection the server closed as it went idle (seen as
 * `socket hang up` on a loaded CI machine). A route handler that throws leaves the page waiting for an answer that
 * never comes. Only for reads, which are safe to repeat.
 *
 * @example await page.route("**\/v1/audiences/*", async (route) => route.fulfill({ response: await fetchRouted(route) }));
 */
export function fetchRouted(route: Route): Promise<APIResponse> {
  return route.fetch().catch(() => route.fetch());
}
