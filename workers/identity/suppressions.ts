/**
 * Suppressions as keyed hashes (issue 10, finding 7): a GDPR erase must leave no readable email, user id or device
 * id behind, yet later events carrying one must still be recognised and dropped. So `suppression_hashes` holds
 * HMAC-SHA256(SUPPRESSION_SECRET, workspace, type, value): equal inputs give equal hashes, and without the secret a
 * hash cannot be checked against a guessed email.
 */
import { env } from "cloudflare:workers";
import type { Identifier } from "@tessera/protocol";
import { hashLegacySuppressionPage } from "../../d1/queries/suppressions";
import { keepAlive } from "../shared/keep-alive";
import { toHex } from "../sync/hmac";

/**
 * The key `npm run dev` and the tests use when no `SUPPRESSION_SECRET` is set; never outside them (like `admin_dev`).
 * A deployment without the secret refuses to hash rather than store something a guess could reverse.
 */
const LOCAL_DEV_SECRET = "suppression_dev";
const LOCAL_ENVIRONMENTS = new Set(["development", "test"]);

const encoder = new TextEncoder();
let cached: { secret: string; key: Promise<CryptoKey> } | undefined;

function hmacKey(): Promise<CryptoKey> {
  const secret = env.SUPPRESSION_SECRET ?? (LOCAL_ENVIRONMENTS.has(env.ENVIRONMENT) ? LOCAL_DEV_SECRET : undefined);
  if (!secret) {
    throw new Error("SUPPRESSION_SECRET is not set: run `wrangler secret put SUPPRESSION_SECRET` (see README, Deploy)");
  }
  if (cached?.secret !== secret) {
    const key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    cached = { secret, key };
  }
  return cached.key;
}

/**
 * The suppression hash of `identifier` in `workspaceId` (64 hex digits). NUL separates the parts: it cannot appear in
 * a workspace id or a type, so two different identifiers never hash the same input.
 *
 * @example await suppressionHash("ws_…", { type: "email", value: "jane@example.com" }) // "3f9c…"
 */
export async function suppressionHash(workspaceId: string, identifier: Identifier): Promise<string> {
  const input = encoder.encode(`${workspaceId}\u0000${identifier.type}\u0000${identifier.value}`);
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(), input)));
}

/** The hash of each identifier, in order. */
export function suppressionHashes(workspaceId: string, identifiers: readonly Identifier[]): Promise<string[]> {
  return Promise.all(identifiers.map((id) => suppressionHash(workspaceId, id)));
}

/** Per D1 binding: done once the legacy table was seen empty (nothing writes to it any more). */
const legacyDone = new WeakMap<D1Database, Promise<void>>();

/**
 * Moves plaintext rows left in the legacy `suppressions` table (written before suppressions were hashed) into
 * `suppression_hashes`, deleting them, before this isolate's first suppression check: no erased person slips through
 * while the rows wait, and after the first check of an isolate it costs nothing.
 */
export function hashLegacySuppressions(db: D1Database): Promise<void> {
  let done = legacyDone.get(db);
  if (!done) {
    done = (async () => {
      while (await hashLegacySuppressionPage(db, suppressionHash, Date.now())) {}
    })();
    // A failure is retried by the next check rather than remembered.
    done.catch(() => legacyDone.delete(db));
    // Every later check of the isolate waits on it, whichever request started it.
    keepAlive(done);
    legacyDone.set(db, done);
  }
  return done;
}
