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
}

/**
 * @example const profile = await api<Profile>(`/v1/profiles/${encodeURIComponent("email:jane@example.com")}`);
 */
export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const key = options.key ?? storedKey() ?? "";
  let res: Response;
  try {
    res = await fetch(path, {
      method: options.method ?? "GET",
      headers: {
        authorization: `Bearer ${key}`,
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw new ApiError(0, "network_error", `The API could not be reached (${(err as Error).message}).`);
  }
  const text = await res.text();
  const body = text ? parseJson(text) : undefined;
  if (!res.ok) {
    const envelope = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
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
