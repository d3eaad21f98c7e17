import http from "node:http";
import { describe, expect, it } from "vitest";
import { sendBatch } from "./support/dev-api";
import { useDevServer } from "./support/dev-server";

/** Four times the 500 KB request limit, sent without Content-Length, so only counting the bytes can catch it. */
const OVERSIZED_BYTES = 2 * 1024 * 1024;

/**
 * An unauthenticated `POST /v1/batch` streamed with `Transfer-Encoding: chunked` (no Content-Length to refuse it by),
 * over its own connection, as a raw `node:http` client sends it. Resolves to the status and body of the answer.
 */
function sendChunkedJunk(url: string, bytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = http.request(
      {
        host: hostname,
        port,
        path: "/v1/batch",
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    const chunk = Buffer.from(`{"batch":[${'"x",'.repeat(16 * 1024)}`);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.byteLength;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

/** Issue 10, finding 5: a 413 for a chunked body used to make the next request of any client fail with a 503. */
describe("an oversized chunked body against the dev server", () => {
  const dev = useDevServer();

  it("answers 413 and leaves the next client's batch alone, round after round", async () => {
    for (let round = 0; round < 6; round++) {
      const junk = await sendChunkedJunk(dev().url, OVERSIZED_BYTES);
      expect(junk.status, `round ${round}`).toBe(413);
      expect(JSON.parse(junk.body)).toMatchObject({ error: { code: "payload_too_large" } });
      // Another client, its own connection: a valid batch is stored as if nothing happened.
      await sendBatch(dev(), [{ type: "track", event: "After Junk", anonymousId: `victim-${round}` }]);
    }
  });
});
