/**
 * One batch to `POST /v1/batch`, gzipped, with the write key as HTTP Basic user (like Segment's libraries), retried
 * on 429, 5xx and network failures with backoff that honours `Retry-After`. The retry decision is the SDK's own
 * classifier (`@tessera/core`), so the CLI and the SDK agree on what is worth repeating.
 *
 * Every attempt of a body carries the same `Idempotency-Key` (a hash of the body): a collector still working on an
 * earlier attempt that it answered 429 at its deadline lets the retry wait for it rather than start it again.
 */
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { backoffDelay, classify, DEFAULT_RETRY, parseRetryAfter, type RetryOptions } from "@tessera/core";
import { IngestResponse, type RejectedMessage } from "@tessera/protocol";
import type { CongestionControl } from "./adaptive-concurrency";

const gzipAsync = promisify(gzip);

/**
 * How a batch ended: stored (all but the listed rejections, by index in the batch), refused whole (400), too large
 * (413), or failed (a status retrying cannot fix, or retries exhausted). `afterUnclearAttempt` on a stored batch: an
 * earlier attempt ended without saying whether the collector stored it (a cut connection, a timeout, a 429 or a 5xx —
 * the collector answers 429 at its deadline after finishing the work), so duplicates in the answer may be that
 * attempt's rows, stored by this run.
 */
export type SendOutcome =
  | { kind: "stored"; rejected: RejectedMessage[]; duplicates: number; afterUnclearAttempt?: true }
  | { kind: "refused"; error: string }
  | { kind: "too-large"; error: string }
  | { kind: "failed"; error: string; keyRefused?: boolean; notCollector?: boolean };

/** A retry about to happen, for the log. */
export interface RetryNotice {
  attempt: number;
  maxAttempts: number;
  delayMs: number;
  reason: string;
}

export interface SendOptions {
  /** `<host>/v1/batch`. */
  url: string;
  writeKey: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  retry?: RetryOptions;
  /** Per-attempt timeout (default 60 s): a hung connection is retried like a dropped one. */
  timeoutMs?: number;
  userAgent?: string;
  onRetry?: (notice: RetryNotice) => void;
  /** Told of every attempt's outcome, so that the number of batches in flight follows what the server carries. */
  congestion?: CongestionControl;
  /**
   * Whether the host has answered anything yet in this run (shared by its batches). Until it has, a connection that
   * cannot be made at all (refused, no such host) ends the batch at once: that is a wrong `--host` or a server not
   * started, which minutes of retries would only hide.
   */
  host?: { answered: boolean };
}

/** Connection failures that mean nothing is listening there, or no such host: not worth retrying on a first contact. */
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: "the connection was refused",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "its name could not be looked up",
};

/** Backoff for an import: start at half a second, keep trying for a few minutes. */
export const IMPORT_RETRY: RetryOptions = { ...DEFAULT_RETRY, baseDelay: 500, maxDelay: 30_000, maxAttempts: 10 };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends one serialised batch body and reports the outcome; never throws for what the server or network does.
 *
 * @example
 * const outcome = await sendBatch('{"batch":[…]}', { url: "http://localhost:8787/v1/batch", writeKey: "wk_dev" });
 * if (outcome.kind === "stored") console.log(outcome.rejected);
 */
export async function sendBatch(body: string, options: SendOptions): Promise<SendOutcome> {
  const retry = options.retry ?? IMPORT_RETRY;
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? defaultSleep;
  const compressed = await gzipAsync(Buffer.from(body));
  const headers = {
    authorization: `Basic ${Buffer.from(`${options.writeKey}:`).toString("base64")}`,
    "content-type": "application/json",
    "content-encoding": "gzip",
    "user-agent": options.userAgent ?? "tessera-cli",
    "idempotency-key": createHash("sha256").update(body).digest("base64url"),
  };
  let last = "";
  let unclear = false;
  for (let attempt = 0; attempt < retry.maxAttempts; attempt++) {
    let status = 0;
    let text = "";
    let retryAfter: number | undefined;
    // A connection refused, or a host not found: the request never reached a collector.
    let neverSent = false;
    const ticket = (await options.congestion?.acquire()) ?? 0;
    try {
      const response = await doFetch(options.url, {
        method: "POST",
        headers,
        body: compressed,
        signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
      });
      status = response.status;
      if (options.host) options.host.answered = true;
      retryAfter = parseRetryAfter(response.headers.get("retry-after"));
      text = await response.text();
    } catch (err) {
      const failure = networkFailure(err);
      const unreachable = failure.code === undefined ? undefined : UNREACHABLE[failure.code];
      if (options.host && !options.host.answered && unreachable !== undefined) {
        options.congestion?.done(ticket, "other");
        const at = new URL(options.url).origin;
        return { kind: "failed", error: `cannot reach ${at}: ${unreachable} (is --host right, and Tessera running?)` };
      }
      text = failure.text;
      neverSent = unreachable !== undefined;
    }
    const outcome = classify(status);
    options.congestion?.done(ticket, loadSignal(outcome, retryAfter));
    if (outcome === "ok") {
      const answer = stored(text, options.url);
      return unclear && answer.kind === "stored" ? { ...answer, afterUnclearAttempt: true } : answer;
    }
    last = status === 0 ? text : `${status} ${errorMessage(text)}`;
    if (outcome === "split") return { kind: "too-large", error: last };
    if (outcome === "drop") {
      if (status === 400) return { kind: "refused", error: last };
      return { kind: "failed", error: last, ...((status === 401 || status === 403) && { keyRefused: true }) };
    }
    // What is retried (a cut connection, a timeout, 429, 5xx) says nothing of whether the work was done.
    if (!neverSent) unclear = true;
    if (attempt + 1 >= retry.maxAttempts) break;
    const delayMs = Math.round(backoffDelay(attempt, retryAfter, retry, Math.random));
    options.onRetry?.({ attempt: attempt + 1, maxAttempts: retry.maxAttempts, delayMs, reason: last });
    await sleep(delayMs);
  }
  return { kind: "failed", error: `gave up after ${retry.maxAttempts} attempts: ${last}` };
}

/**
 * What an attempt says about the server's load. A retryable answer means "overloaded" unless the server asks to be
 * retried at once (`Retry-After: 0`): that is a connection that failed on the way, not a server asking for less
 * (`wrangler dev`'s proxy answers such a 503 when a kept-alive connection to the Worker expires under a request).
 */
function loadSignal(
  outcome: ReturnType<typeof classify>,
  retryAfter: number | undefined,
): "answered" | "refused" | "other" {
  if (outcome === "ok") return "answered";
  return outcome === "retry" && retryAfter !== 0 ? "refused" : "other";
}

/**
 * The 200 answer's rejections, and how many of its accepted messages the collector already held under their messageId
 * (dropped, not stored again). A 200 whose body is not the collector's answer is a failure, not retried: Tessera's
 * collector answers every 200 of /v1/batch with that shape, so another body is another server (a wrong --host, a
 * proxy's page, a captive portal), and counting the batch as stored would checkpoint rows nothing stored (DESIGN §3:
 * never acknowledge what could still be lost).
 */
function stored(text: string, url: string): SendOutcome {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = IngestResponse.safeParse(json);
  if (!parsed.success) {
    const at = new URL(url).origin;
    return {
      kind: "failed",
      error: `${at} answered 200 but not as a Tessera collector: ${errorMessage(text)}`,
      notCollector: true,
    };
  }
  return { kind: "stored", rejected: parsed.data.rejected, duplicates: parsed.data.duplicates ?? 0 };
}

/** `{"error":{"code","message"}}` → `code: message`; any other body, shortened. */
function errorMessage(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (json.error?.message) return json.error.code ? `${json.error.code}: ${json.error.message}` : json.error.message;
  } catch {
    // Not JSON: a proxy's HTML page, say.
  }
  return text.trim().slice(0, 200) || "(empty body)";
}

/** A failed fetch in words, and its system error code when it has one (`ECONNREFUSED`). */
function networkFailure(err: unknown): { text: string; code?: string } {
  const error = err as Error & { cause?: { code?: string; message?: string } };
  if (error.name === "TimeoutError") return { text: "the request timed out" };
  const code = error.cause?.code;
  const cause = code ?? error.cause?.message;
  return { text: cause ? `network error (${cause})` : `network error (${error.message})`, code };
}
