const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * A prefixed random id (`prf_…`, `ws_…`): 20 base32 characters = 100 bits, enough that ids never collide.
 * @example newId("prf") // "prf_8x2k…"
 */
export function newId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  let out = `${prefix}_`;
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

/** A secret token (API keys): 32 random bytes, base32, with a readable prefix such as `wk_` or `sk_`. */
export function newSecret(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let out = `${prefix}_`;
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}
