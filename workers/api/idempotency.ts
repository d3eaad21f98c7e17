/**
 * `Idempotency-Key` on the secret-key calls that change something (as Stripe's API has it): a client that sent a
 * call and got no answer it can trust — a dropped connection, a timeout, a proxy's `503` — sends it again with the
 * same key, and the call runs once. The first call's answer is stored (D1, a day) and given again, marked
 * `Idempotent-Replayed: true`; the console sends a key with every such call and resends it once when the platform
 * in front of the Worker dropped it (`wrangler dev`'s proxy, workers-sdk#14641).
 *
 * Stored: the call's answer when it did something (2xx), unless marked {@link SHOWN_ONCE} (a new key is in its
 * answer only, and D1 holds keys as hashes, never as they are). A refusal (4xx) changed nothing, and a failure (5xx)
 * is one the route is safe to retry after, so their retry runs afresh and says what is true then; a call issuing a
 * new key issues another (the unseen one is revoked with the old ones), unless the call made something that must not
 * be made twice ({@link answerResendsWith}: a source), whose resend is answered 409 saying what the first call made. Nothing kept names a person: the call is kept
 * as a hash (a profile's ref is in its path). The same key with another method, path or body is a client's mistake
 * and is refused (400); sent while its first call still runs, it is answered 409 with `Retry-After`.
 */
import type { Context, Next } from "hono";
import {
  claimIdempotencyKey,
  type IdempotentCall,
  releaseIdempotencyKey,
  storeIdempotentAnswer,
} from "../../d1/queries/idempotent-requests";
import { ABANDONED_AFTER_MS } from "../shared/abandoned-claims";
import type { AppEnv } from "../shared/app-env";
import { readBodyBytes } from "../shared/body-bytes";
import { HttpError, validationError } from "../shared/errors";
import { MAX_IDEMPOTENCY_KEY_LENGTH } from "../shared/idempotency-key";
import { keepAlive } from "../shared/keep-alive";
import { MAX_BODY_BYTES } from "./json-body";

/**
 * The headers of an answer that carries a credential shown once (a new write or secret key): no cache may keep it,
 * and neither does the `Idempotency-Key` store.
 *
 * @example return c.json({ secret_key }, 201, SHOWN_ONCE);
 */
export const SHOWN_ONCE = { "Cache-Control": "no-store" } as const;

/**
 * For a call whose answer is {@link SHOWN_ONCE} and which made something a second run would make again (a source,
 * which cannot be deleted): a resend with the same `Idempotency-Key` is answered `409` with `message` (what the first
 * call made, and how to get a credential for it) instead of running again.
 *
 * @example answerResendsWith(c, `This call already created source ${id}; issue a key with POST /v1/sources/${id}/keys`);
 */
export function answerResendsWith(c: Context<AppEnv>, message: string): void {
  c.set("idempotentResend", message);
}

/** The header a replayed answer carries. */
export const REPLAYED_HEADER = "Idempotent-Replayed";

/**
 * Runs `next` once per workspace and key: called by the secret-key middleware once the workspace is known, for
 * every call whose method changes something.
 */
export async function runOnceByIdempotencyKey(c: Context<AppEnv>, next: Next): Promise<Response | undefined> {
  const key = c.req.header("idempotency-key");
  if (key === undefined || c.req.method === "GET" || c.req.method === "HEAD") {
    await next();
    return;
  }
  if (key.trim() === "" || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    throw validationError(`Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters (a UUID will do)`);
  const call: IdempotentCall = { workspaceId: c.get("workspaceId"), key, fingerprint: await fingerprintOf(c.req.raw) };
  const startedAt = Date.now();
  const claim = await claimIdempotencyKey(c.env.DB, call, startedAt, startedAt - ABANDONED_AFTER_MS);
  if (!claim.claimed) {
    const { held } = claim;
    if (held.fingerprint !== call.fingerprint)
      throw validationError(
        "This Idempotency-Key was sent with another call (method, path or body): send a new key with a new call",
      );
    if (held.status === null)
      throw new HttpError(409, "conflict", "The first call with this Idempotency-Key is still running", {
        headers: { "Retry-After": "1" },
      });
    // A 204 answers with a null body: the Fetch standard refuses any other, even "" (workerd lets "" through).
    return new Response(held.body || null, {
      status: held.status,
      headers: { ...(held.contentType ? { "content-type": held.contentType } : {}), [REPLAYED_HEADER]: "true" },
    });
  }
  try {
    await next();
  } catch (err) {
    await settle(releaseIdempotencyKey(c.env.DB, call, startedAt));
    throw err;
  }
  // Hono has already turned a thrown error into the answer (`app.onError`), so every outcome is here.
  const res = c.res;
  const resend = res.ok ? c.get("idempotentResend") : undefined;
  const store = (answer: Promise<{ status: number; contentType: string | null; body: string }>) =>
    answer.then((a) => storeIdempotentAnswer(c.env.DB, call, startedAt, a));
  await settle(
    storable(res)
      ? store(
          res
            .clone()
            .text()
            .then((body) => ({ status: res.status, contentType: res.headers.get("content-type"), body })),
        )
      : resend !== undefined
        ? store(
            Promise.resolve({
              status: 409,
              contentType: "application/json",
              body: JSON.stringify({ error: { code: "conflict", message: resend } }),
            }),
          )
        : releaseIdempotencyKey(c.env.DB, call, startedAt),
  );
}

function storable(res: Response): boolean {
  return res.ok && !res.headers.get("cache-control")?.includes("no-store");
}

/**
 * Awaits the key's bookkeeping, and keeps it alive past a client that hung up; if it fails, the call's own answer
 * still goes out (it ran), and the key stays claimed until it is abandoned: a retry meanwhile is answered 409.
 */
async function settle(work: Promise<void>): Promise<void> {
  keepAlive(work);
  await work.catch((err) => console.error("an Idempotency-Key's answer could not be stored", err));
}

/** SHA-256 of the method, the path with its query, and the body: what makes two calls the same. */
export async function fingerprintOf(request: Request): Promise<string> {
  const url = new URL(request.url);
  // Bodies of secret-key calls are small JSON (`jsonBody`); a larger one is refused as the route would refuse it.
  const body = await readBodyBytes(request.clone(), MAX_BODY_BYTES);
  const head = new TextEncoder().encode(`${request.method} ${url.pathname}${url.search}\n`);
  const call = new Uint8Array(head.byteLength + body.byteLength);
  call.set(head);
  call.set(body, head.byteLength);
  const digest = await crypto.subtle.digest("SHA-256", call);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
