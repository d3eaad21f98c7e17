/** Reading an ingestion body as JSON without ever holding more than the request limit in memory. */
import { gunzipSync, inflateSync } from "node:zlib";
import { readBodyBytes, tooLarge } from "../shared/body-bytes";
import { HttpError, validationError } from "../shared/errors";

/**
 * The request body parsed as JSON, whatever its Content-Type says (RudderStack's Node SDK labels gzipped JSON
 * `application/x-www-form-urlencoded`; browsers send `text/plain` to skip the CORS preflight).
 * Wire bytes are read within `limit` ({@link readBodyBytes}); `Content-Encoding: gzip` is then inflated with an
 * output cap, so a gzip bomb answers 413 having produced at most `limit` bytes.
 *
 * @example const json = await readJsonBody(c.req.raw, MAX_REQUEST_BYTES);
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip" && encoding !== "x-gzip" && encoding !== "deflate") {
    throw new HttpError(415, "validation_error", `Content-Encoding "${encoding}" is not supported (use gzip)`);
  }
  const wire = await readBodyBytes(request, limit);
  const bytes = encoding === "identity" ? wire : inflate(wire, encoding, limit);
  const text = decodeUtf8(bytes);
  if (text.trim() === "") throw validationError("The request body is empty: send a JSON object");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw validationError(`The body is not valid JSON: ${(err as Error).message}`);
  }
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * The body as text, refusing bytes that are not UTF-8. A lenient decoder turns each bad byte into U+FFFD, so two
 * ids that differ only in their invalid bytes would become one id, and two people one profile.
 */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw validationError("The body is not valid UTF-8 text");
  }
}

/**
 * Synchronous zlib with `maxOutputLength`: the output is capped while inflating. (The streaming
 * DecompressionStream would need a JavaScript byte counter, and workerd reports a corrupt stream's error
 * from inside the pipe as an unhandled rejection.)
 */
function inflate(wire: Uint8Array, encoding: string, limit: number): Uint8Array {
  if (wire.byteLength === 0) return wire;
  try {
    const options = { maxOutputLength: limit };
    return encoding === "deflate" ? inflateSync(wire, options) : gunzipSync(wire, options);
  } catch (err) {
    if (err instanceof RangeError) throw tooLarge(limit, "The decompressed body");
    // A truncated or corrupt stream is the client's mistake, not ours.
    throw validationError(`The body could not be read as ${encoding}: ${(err as Error).message}`);
  }
}
