import { TESSERA_MIN_JS as script } from "@tessera/browser/assets";
import { Hono } from "hono";
import type { AppEnv } from "../shared/app-env";
import { sha256Hex } from "../shared/hash";

/**
 * First-party hosting of the browser SDK (ad blockers filter third-party CDNs and names like `analytics.js`).
 * The build is bundled into the Worker as text, so the ETag changes only when the script does.
 */
export const sdkAssetRoutes = new Hono<AppEnv>();

let etag: string | undefined;

sdkAssetRoutes.get("/sdk/tessera.min.js", async (c) => {
  etag ??= `"${(await sha256Hex(script)).slice(0, 16)}"`;
  const headers = {
    "Content-Type": "application/javascript; charset=utf-8",
    // A day fresh, then a week served stale while revalidating: a new release reaches pages within a day.
    "Cache-Control": "public, max-age=86400, stale-while-revalidate=604800",
    "Access-Control-Allow-Origin": "*",
    ETag: etag,
  };
  if (c.req.header("If-None-Match") === etag) return c.body(null, 304, headers);
  return c.body(script, 200, headers);
});
