/**
 * Calls to the Tessera API from the console: same origin, the secret key as Bearer. Every failure becomes an
 * {@link ApiError} carrying the error envelope's message, so a page shows what the API said where it happened.
 */
import { forgetKey, storedKey } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Fired when the API refuses the stored key (revoked meanwhile): the app shows the sign-in form with the reason. */
export const SIGNED_OUT_EVENT = "tessera:signed-out";

export interface ApiOptions {
  method?: string;
  body?: unknown;
  /** Defaults to the signed-in key; the sign-in form passes the key it is trying. */
  key?: string;
  signal?: AbortSignal;
  /**
   * The call changes nothing (a preview), as GET calls never do: it is sent without an `Idempotency-Key`, which would
   * have the API store its answer for nothing.
   */
  readOnly?: boolean;
}

/** How long before a dropped call is sent again. */
const RESEND_DELAY_MS = 250;

/**
 * A 409 with `Retry-After` says "another call is running; this one can go in a moment" (a merge undo or erase while
 * another runs in the workspace, a resend while the first send still runs): the console waits and sends it again this
 * many times, when the API asks for no more than {@link LONGEST_WAIT_S} a time, before it shows the refusal.
 */
const WAITS_FOR_A_TURN = 5;
const LONGEST_WAIT_S = 5;

/**
 * @example const profile = await api<Profile>(`/v1/profiles/${encodeURIComponent("email:jane@example.com")}`);
 */
export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const method = options.method ?? "GET";
  // A call that changes something carries a key of its own, the same on its resend: the API runs it once per key.
  const idempotencyKey = method === "GET" || options.readOnly ? undefined : crypto.randomUUID();
  const send = () => call(path, method, options, idempotencyKey);
  const sendAfter = async (ms: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (options.signal?.aborted) throw options.signal.reason;
    return send();
  };
  let { res, body } = await send();
  // A 503 without Tessera's error envelope came from the platform in front of the Worker, not from the API: `wrangler
  // dev`'s proxy answers "Your worker restarted mid-request" to a POST it forwarded over a pooled connection just as
  // that connection's 5 s keep-alive ran out (workers-sdk#14641; it retries GETs itself). The call is sent once more
  // before the page is told; if it had run after all, its key has the API answer as it did the first time.
  if (res.status === 503 && envelopeOf(body) === undefined) {
    ({ res, body } = await sendAfter(RESEND_DELAY_MS));
  }
  for (let waits = 0; waits < WAITS_FOR_A_TURN && res.status === 409; waits++) {
    const seconds = Number(res.headers.get("retry-after") ?? Number.NaN);
    if (!(seconds >= 0 && seconds <= LONGEST_WAIT_S)) break;
    ({ res, body } = await sendAfter(seconds * 1_000));
  }
  if (!res.ok) {
    const envelope = envelopeOf(body);
    const error = new ApiError(
      res.status,
      envelope?.code ?? "http_error",
      envelope?.message ?? `The API answered ${res.status} ${res.statusText}`.trim(),
    );
    if (res.status === 401 && options.key === undefined) {
      forgetKey();
      window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT, { detail: error.message }));
    }
    throw error;
  }
  return body as T;
}

async function call(
  path: string,
  method: string,
  options: ApiOptions,
  idempotencyKey: string | undefined,
): Promise<{ res: Response; body: unknown }> {
  const key = options.key ?? storedKey() ?? "";
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw new ApiError(0, "network_error", `The API could not be reached (${(err as Error).message}).`);
  }
  const text = await res.text();
  return { res, body: text ? parseJson(text) : undefined };
}

function envelopeOf(body: unknown): { code?: string; message?: string } | undefined {
  return (body as { error?: { code?: string; message?: string } } | undefined)?.error;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The message to show for anything a call threw. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
