/** A test-only app: the collector with injected seams, mounted the way `workers/app.ts` mounts it. */
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { type CollectorOptions, createCollectorRoutes } from "../collector/routes";
import { errorEnvelope } from "../shared/error-envelope";
import { basicAuth } from "./seed";

/** The collector with injected seams, mounted the way `workers/app.ts` mounts it (one app: one isolate's state). */
export function collectorApp(options: CollectorOptions): Hono {
  const app = new Hono().route("/", createCollectorRoutes(options));
  app.onError(errorEnvelope);
  return app;
}

/** `POST path` with `body` as JSON through `app`; `headers` and `bindings` add to the defaults. */
export function postTo(
  app: Hono,
  path: string,
  body: unknown,
  writeKey: string,
  extra: { headers?: Record<string, string>; bindings?: Partial<Env> } = {},
): Promise<Response> {
  return Promise.resolve(
    app.request(
      path,
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: basicAuth(writeKey), ...extra.headers },
        body: JSON.stringify(body),
      },
      { ...env, ...extra.bindings },
    ),
  );
}

/** `POST path` with `body` as JSON through a collector built with `options`. */
export function postWith(options: CollectorOptions, path: string, body: unknown, writeKey: string): Promise<Response> {
  return postTo(collectorApp(options), path, body, writeKey);
}

/** A queue that records what it was sent (bodies, and each one's delay in `delays`), or refuses everything. */
export function fakeQueue(fail = false) {
  const sent: unknown[] = [];
  const delays: number[] = [];
  return {
    sent,
    delays,
    async sendBatch(messages: Iterable<MessageSendRequest>): Promise<QueueSendBatchResponse> {
      if (fail) throw new Error("queue unavailable");
      for (const m of messages) {
        sent.push(m.body);
        delays.push(m.delaySeconds ?? 0);
      }
      return { metadata: { metrics: { backlogCount: sent.length, backlogBytes: 0 } } };
    },
  };
}
