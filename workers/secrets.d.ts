// Worker secrets are not in wrangler.toml, so `wrangler types` cannot see them; declared here.
declare namespace Cloudflare {
  interface Env {
    /** Bootstraps workspaces (`POST /v1/workspaces`). Set with `wrangler secret put ADMIN_TOKEN`; `admin_dev` locally. */
    ADMIN_TOKEN?: string;
    /** Signs the first-party cookies the collector sets. Set with `wrangler secret put COOKIE_SECRET`. */
    COOKIE_SECRET?: string;
  }
}
