/** Reading a request's body without ever holding more than a limit of it in memory. */
import { HttpError } from "./errors";

/** The `413 payload_too_large` of a body past `limit` bytes; `what` names it ("The body", "The decompressed body"). */
export const tooLarge = (limit: number, what: string) =>
  new HttpError(413, "payload_too_large", `${what} is larger than the ${limit}-byte request limit`);

/**
 * The request's body as bytes, or 413 once it is over `limit`: at once when its Content-Length says so, else as soon
 * as more than `limit` bytes arrived (a chunked upload declares no length; `arrayBuffer()` would hold all of it
 * before any check could run). Every route that reads a body a client controls reads it through here; `refusal`
 * is the error it answers (default {@link tooLarge}).
 *
 * @example const bytes = await readBodyBytes(c.req.raw, 1024 * 1024);
 */
export async function readBodyBytes(
  request: Request,
  limit: number,
  refusal: (what: string) => HttpError = (what) => tooLarge(limit, what),
): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw refusal(`The body (${declared} bytes)`);
  // Content-Length frames the body, so it cannot be longer than declared: read it in one go.
  if (declared >= 0) return new Uint8Array(await request.arrayBuffer());
  return readWithin(request.body, limit, refusal, "drain");
}

/**
 * The whole stream, or `refusal`'s error once more than `limit` bytes arrived; past the limit nothing more is kept.
 * `rest`: what becomes of what is still coming. A request's body is read and dropped (`drain`): one abandoned half-read
 * leaves its connection mid-request, and the next request another client sends over it fails (`wrangler dev`
 * answered it 503 "Your worker restarted mid-request", issue 10 finding 5); draining is bounded by the platform,
 * which refuses bodies over the zone plan's limit (100 MB or more) before the Worker sees them, and holds one chunk
 * at a time. An answer to our own request is cancelled (`cancel`): nothing bounds what a host may send.
 */
export async function readWithin<E extends Error>(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  refusal: (what: string) => E,
  rest: "drain" | "cancel",
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await (rest === "drain" ? discardRest(reader) : reader.cancel().catch(() => {}));
      throw refusal("The body");
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Reads `reader` to its end, keeping nothing; a client that breaks off the upload ends it too. */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    while (!(await reader.read()).done) {}
  } catch {
    // The client went away mid-upload: there is nothing left to drain.
  }
}
