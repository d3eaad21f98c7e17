/**
 * A customer's webhook endpoint, in Node, for the Worker's own tests: the workers test pool routes every outbound
 * request to `http://receiver.test` here (vitest.config.ts `outboundService`), including those a Durable Object makes
 * from its alarm. Tests steer it and read it over HTTP, since they run inside workerd:
 *
 * - `POST http://receiver.test/__mock/answers?path=/hook-1` `[{status, headers?}, …]`: how the next calls to that
 *   path are answered, the last answer repeating (default 200);
 * - `GET http://receiver.test/__mock/requests?path=/hook-1`: what arrived there `[{method, path, headers, body}]`;
 * - `POST http://receiver.test/__mock/capacity?path=/hook-1` `{inFlight, holdMs}`: an endpoint that carries only so
 *   much: each call is held `holdMs`, and one arriving while `inFlight` are held is answered `503` at once;
 *   `GET …/__mock/peak?path=/hook-1` answers `{peak}`, the most calls held at once.
 *
 * Everything is per path, so test files running side by side never see each other's calls. Requests to a hosted vendor
 * mock's host (`<name>.klaviyo.test`) go to that mock (see `hosted-vendors.ts`).
 */
import { hostedVendors } from "./hosted-vendors";

export const RECEIVER_HOST = "receiver.test";

interface Answer {
  status: number;
  headers?: Record<string, string>;
}

interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export function webhookReceiver() {
  const answers = new Map<string, Answer[]>();
  const served = new Map<string, number>();
  const requests: Received[] = [];
  const capacity = new Map<string, { inFlight: number; holdMs: number }>();
  const held = new Map<string, { now: number; peak: number }>();
  const vendors = hostedVendors();
  return {
    /** The answer for a request to the receiver's host; undefined for any other host. */
    async handle(request: Request): Promise<Response | undefined> {
      const url = new URL(request.url);
      if (url.hostname !== RECEIVER_HOST) return vendors.handle(request);
      const target = url.searchParams.get("path") ?? "";
      if (url.pathname === "/__mock/answers") {
        answers.set(target, (await request.json()) as Answer[]);
        served.set(target, 0);
        return Response.json({ ok: true });
      }
      if (url.pathname === "/__mock/requests") return Response.json(requests.filter((r) => r.path === target));
      if (url.pathname === "/__mock/capacity") {
        capacity.set(target, (await request.json()) as { inFlight: number; holdMs: number });
        return Response.json({ ok: true });
      }
      if (url.pathname === "/__mock/peak") return Response.json({ peak: held.get(target)?.peak ?? 0 });
      requests.push({
        method: request.method,
        path: url.pathname,
        headers: Object.fromEntries(request.headers),
        body: await request.text(),
      });
      const limit = capacity.get(url.pathname);
      if (limit) {
        const state = held.get(url.pathname) ?? { now: 0, peak: 0 };
        held.set(url.pathname, state);
        if (state.now >= limit.inFlight) return new Response("busy", { status: 503 });
        state.now++;
        state.peak = Math.max(state.peak, state.now);
        await new Promise((r) => setTimeout(r, limit.holdMs));
        state.now--;
      }
      const list = answers.get(url.pathname) ?? [];
      const n = served.get(url.pathname) ?? 0;
      served.set(url.pathname, n + 1);
      const answer = list[Math.min(n, list.length - 1)] ?? { status: 200 };
      return new Response(answer.status < 300 ? "ok" : "no", { status: answer.status, headers: answer.headers });
    },
  };
}
