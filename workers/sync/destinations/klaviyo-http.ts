/**
 * Klaviyo's HTTP layer for the `klaviyo` destination and its bulk import jobs (reference/maps.md §2.3): every call
 * with the key, the pinned revision and JSON:API media types, and the one classifier that turns Klaviyo's errors into
 * item outcomes (maps.md §1c).
 *
 * @example
 * const res = await request(ctx, "GET", "/api/lists", { query: { "page[size]": "1" } });
 * if (!res.ok) return res.failure; // { status: "retry" | "fail", … }
 */
import { AuthRefused, type Outcome, type PluginContext, Redirected, Throttled } from "../plugin";
import { retryAfterMs } from "../retry-after";

export interface KlaviyoConfig {
  /** A private API key (`pk_…`) with the profiles, lists and data-privacy write scopes. */
  api_key: string;
  base_url?: string;
  /** The API revision sent on every call; the plugin is built and tested against the default. */
  revision?: string;
  /** Signs the system webhooks Klaviyo sends back (see `inbound/klaviyo.ts`). */
  webhook_secret?: string;
}

export const KLAVIYO_REVISION = "2026-07-15";
const DEFAULT_BASE_URL = "https://a.klaviyo.com";
const JSON_API = "application/vnd.api+json";

export type Failure = Extract<Outcome, { status: "retry" | "fail" }>;
export type Ctx = PluginContext<KlaviyoConfig>;

/** One entry of a JSON:API error envelope (maps.md §2.3). */
export interface KlaviyoError {
  code?: string;
  title?: string;
  detail?: string;
  source?: { pointer?: string; parameter?: string };
  meta?: { duplicate_profile_id?: string };
}

export interface Resource {
  id: string;
  attributes?: Record<string, unknown>;
}

/** A Klaviyo answer: the document on 2xx, else the item outcome it means and the errors it listed. */
export type Answer =
  | { ok: true; status: number; data?: Resource | Resource[]; links?: { next?: string | null } }
  | { ok: false; status: number; failure: Failure; errors: KlaviyoError[] };

/**
 * One Klaviyo call. Every call carries the key, the pinned revision and JSON:API media types. Never throws on a
 * status except the two that concern the whole destination: 429 (`Throttled`) and 401/403 (`AuthRefused`).
 */
export async function request(
  ctx: Ctx,
  method: string,
  path: string,
  options: { query?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const url = new URL(`${(ctx.config.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, "")}${path}`);
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
  const headers: Record<string, string> = {
    Authorization: `Klaviyo-API-Key ${ctx.config.api_key}`,
    revision: ctx.config.revision ?? KLAVIYO_REVISION,
    Accept: JSON_API,
  };
  if (options.body !== undefined) headers["Content-Type"] = JSON_API;
  let res: Response;
  try {
    res = await ctx.fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch (error) {
    if (error instanceof Redirected) throw error; // the whole destination's address is wrong: it pauses
    // No answer at all (DNS, reset connection): nothing was decided, so it is worth another try.
    return {
      ok: false,
      status: 0,
      failure: { status: "retry", reason: `network: ${(error as Error).message}` },
      errors: [],
    };
  }
  const document = parseJson(await res.text()) as
    | { data?: Resource | Resource[]; errors?: KlaviyoError[]; links?: { next?: string | null } }
    | undefined;
  if (res.ok) return { ok: true, status: res.status, data: document?.data, links: document?.links };
  const errors = Array.isArray(document?.errors) ? document.errors : [];
  return { ok: false, status: res.status, failure: classify(res.status, res.headers, errors), errors };
}

/**
 * The one place a Klaviyo error becomes an outcome (maps.md §1c): 429 throttles the destination, 401/403 stop it;
 * 408 and 5xx are worth a retry; a 400 pointing at the email or phone is a bad identity; other 4xx fail for good.
 * `errors` may be the ones of one item of a bulk call (its pointer's).
 */
export function classify(status: number, headers: Headers, errors: KlaviyoError[]): Failure {
  const detail = errors.map((e) => [e.detail, e.source?.pointer].filter(Boolean).join(" at ")).join("; ");
  const message = `Klaviyo ${status}${detail ? `: ${detail}` : ""}`;
  // Without a hint, wait out Klaviyo's shortest window (1 s burst).
  if (status === 429) throw new Throttled(seconds(headers, "retry-after", "ratelimit-reset") ?? 1000, message);
  if (status === 401 || status === 403) throw new AuthRefused(message);
  if (status === 408 || status >= 500) {
    const wait = seconds(headers, "retry-after");
    return wait === undefined
      ? { status: "retry", reason: message }
      : { status: "retry", reason: message, retryAfterMs: wait };
  }
  if (status === 404) return { status: "fail", code: "not_found", message };
  const identity = errors.some((e) => /\/(email|phone_number)$/.test(e.source?.pointer ?? ""));
  return { status: "fail", code: status === 409 || identity ? "invalid_identity" : "invalid_payload", message };
}

/** The first of these headers that holds a number of seconds (Klaviyo's spelling), in milliseconds. */
function seconds(headers: Headers, ...names: string[]): number | undefined {
  for (const name of names) {
    const wait = retryAfterMs(headers.get(name));
    if (wait !== undefined) return wait;
  }
  return undefined;
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // a proxy's HTML error page: the status alone decides
  }
}
