/**
 * A stand-in for the collector's `POST /v1/batch` on a real local port (node:http), for the CLI's integration
 * tests: it records every request (headers, wire size, gunzipped body), stores messages by messageId like the real
 * one (a second delivery is a no-op), and answers what the test scripts, per request.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Bytes on the wire (gzipped) and of the JSON inside. */
  wireBytes: number;
  jsonBytes: number;
  body: { batch: Array<Record<string, unknown>>; context?: Record<string, unknown> };
  /** Other requests being handled when this one arrived (not yet answered). */
  concurrent: number;
}

/** What to answer: a status with headers and a JSON body, `"store"` for the collector's usual 200, or a dropped connection. */
export type Answer = { status: number; headers?: Record<string, string>; body?: unknown } | "store" | "hang-up";

export interface FakeCollectorOptions {
  /** The answer to request `n` (0-based); `"store"` when left out. */
  answer?: (request: RecordedRequest, n: number) => Answer;
  /** A reason to reject one message in a 200 answer (`"store"`), or null to store it. */
  rejectIf?: (message: Record<string, unknown>) => string | null;
  /** Holds request `n` until this settles before answering it (a collector at work); answered at once when left out. */
  hold?: (request: RecordedRequest, n: number) => Promise<void>;
}

export interface FakeCollector {
  url: string;
  requests: RecordedRequest[];
  /** Stored messages by messageId: what the real collector would hold. */
  stored: Map<string, Record<string, unknown>>;
  options: FakeCollectorOptions;
  close(): Promise<void>;
}

/** @example const collector = await startFakeCollector({ rejectIf: (m) => (m.userId ? null : "no user") }); */
export async function startFakeCollector(options: FakeCollectorOptions = {}): Promise<FakeCollector> {
  const requests: RecordedRequest[] = [];
  const stored = new Map<string, Record<string, unknown>>();
  let handling = 0;
  const fake: FakeCollector = { url: "", requests, stored, options, close: async () => {} };
  const server = createServer(async (req, res) => {
    handling++;
    // Counted out before the answer is written, so that a client's next request never sees this one as in flight.
    let answered = false;
    const answering = () => {
      if (!answered) handling--;
      answered = true;
    };
    res.on("close", answering);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const wire = Buffer.concat(chunks);
    const json = req.headers["content-encoding"] === "gzip" ? gunzipSync(wire) : wire;
    const request: RecordedRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      wireBytes: wire.length,
      jsonBytes: json.length,
      body: JSON.parse(json.toString("utf8")),
      concurrent: handling - 1,
    };
    const n = requests.push(request) - 1;
    await fake.options.hold?.(request, n);
    const answer = fake.options.answer?.(request, n) ?? "store";
    answering();
    if (answer === "hang-up") {
      req.socket.destroy();
      return;
    }
    if (answer !== "store") {
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
      return;
    }
    const rejected: Array<{ index: number; messageId?: string; error: string }> = [];
    let duplicates = 0;
    request.body.batch.forEach((message, index) => {
      const reason = fake.options.rejectIf?.(message) ?? null;
      if (reason) rejected.push({ index, messageId: message.messageId as string, error: `batch[${index}]: ${reason}` });
      else if (stored.has(message.messageId as string)) duplicates++;
      else stored.set(message.messageId as string, message);
    });
    res.writeHead(200, { "content-type": "application/json" });
    const accepted = request.body.batch.length - rejected.length;
    res.end(JSON.stringify({ success: true, accepted, ...(duplicates > 0 && { duplicates }), rejected }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    });
  return fake;
}
