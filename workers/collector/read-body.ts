/** Reading an ingestion body as JSON without ever holding more than the request limit in memory. */
import { HttpError, validationError } from "../shared/errors";

const tooLarge = (limit: number, what: string) =>
  new HttpError(413, "payload_too_large", `${what} is larger than the ${limit}-byte request limit`);

/**
 * The request body parsed as JSON, whatever its Content-Type says (RudderStack's Node SDK labels gzipped JSON
 * `application/x-www-form-urlencoded`; browsers send `text/plain` to skip the CORS preflight).
 * `Content-Encoding: gzip` is inflated; both the wire bytes and the inflated bytes are counted as they arrive,
 * so an oversized body or a gzip bomb answers 413 after reading at most `limit` bytes past the cap.
 *
 * @example const json = await readJsonBody(c.req.raw, MAX_REQUEST_BYTES);
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw tooLarge(limit, `The body (${declared} bytes)`);
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip" && encoding !== "x-gzip" && encoding !== "deflate") {
    throw new HttpError(415, "validation_error", `Content-Encoding "${encoding}" is not supported (use gzip)`);
  }
  const body = request.body;
  if (!body) throw validationError("The request body is empty: send a JSON object");

  let text: string;
  if (encoding === "identity" && declared >= 0) {
    // Content-Length frames the body, so it cannot be longer than declared: read it in one go.
    text = await request.text();
  } else {
    // Errors crossing native streams may lose their class, so the limit also records what it tripped on.
    const tripped: { error?: HttpError } = {};
    let stream: ReadableStream<Uint8Array> = body.pipeThrough(byteLimit(limit, "The body", tripped));
    if (encoding !== "identity") {
      const format = encoding === "deflate" ? "deflate" : "gzip";
      stream = stream
        .pipeThrough(new DecompressionStream(format) as unknown as TransformStream<Uint8Array, Uint8Array>)
        .pipeThrough(byteLimit(limit, "The decompressed body", tripped));
    }
    text = await readText(stream, encoding, tripped);
  }
  if (text.trim() === "") throw validationError("The request body is empty: send a JSON object");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw validationError(`The body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Passes bytes through until more than `limit` went by, then fails the stream with a 413. */
function byteLimit(
  limit: number,
  what: string,
  tripped: { error?: HttpError },
): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen <= limit) return controller.enqueue(chunk);
      tripped.error ??= tooLarge(limit, what);
      controller.error(tripped.error);
    },
  });
}

async function readText(
  stream: ReadableStream<Uint8Array>,
  encoding: string,
  tripped: { error?: HttpError },
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk);
      total += chunk.byteLength;
    }
  } catch (err) {
    if (tripped.error) throw tripped.error;
    // A truncated or corrupt gzip stream is the client's mistake, not ours.
    throw validationError(`The body could not be read as ${encoding}: ${(err as Error).message ?? String(err)}`);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
