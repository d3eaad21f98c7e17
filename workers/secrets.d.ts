// Worker secrets are not in wrangler.toml, so `wrangler types` cannot see them; declared here.
declare namespace Cloudflare {
  interface Env {
    /** Bootstraps workspaces (`POST /v1/workspaces`). Set with `wrangler secret put ADMIN_TOKEN`; `admin_dev` locally. */
    ADMIN_TOKEN?: string;
    /** Signs the first-party cookies the collector sets. Set with `wrangler secret put COOKIE_SECRET`. */
    COOKIE_SECRET?: string;
    /**
     * Keys the hashes GDPR suppressions are stored as (`suppression_hashes`). Set once with `wrangler secret put
     * SUPPRESSION_SECRET` and never change it: a new key no longer recognises erased identifiers. Local dev and tests
     * fall back to a fixed key.
     */
    SUPPRESSION_SECRET?: string;
  }
}
