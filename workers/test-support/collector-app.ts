/** A test-only app: the collector with injected seams, mounted the way `workers/app.ts` mounts it. */
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { type CollectorOptions, createCollectorRoutes } from "../collector/routes";
import { errorEnvelope } from "../shared/error-envelope";
import { basicAuth } from "./seed";

/** `POST path` with `body` as JSON through a collector built with `options`. */
export function postWith(options: CollectorOptions, path: string, body: unknown, writeKey: string): Promise<Response> {
  const app = new Hono().route("/", createCollectorRoutes(options));
  app.onError(errorEnvelope);
  return Promise.resolve(
    app.request(
      path,
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: basicAuth(writeKey) },
        body: JSON.stringify(body),
      },
      env,
    ),
  );
}

/** A queue that records what it was sent, or refuses everything. */
export function fakeQueue(fail = false) {
  const sent: unknown[] = [];
  return {
    sent,
    async sendBatch(messages: Iterable<MessageSendRequest>): Promise<QueueSendBatchResponse> {
      if (fail) throw new Error("queue unavailable");
      for (const m of messages) sent.push(m.body);
      return { metadata: { metrics: { backlogCount: sent.length, backlogBytes: 0 } } };
    },
  };
}
