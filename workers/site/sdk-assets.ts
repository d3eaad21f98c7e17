import { createRoute } from "@hono/zod-openapi";
import { TESSERA_MIN_JS as script } from "@tessera/browser/assets";
import { sha256Hex } from "../../d1/hash";
import { openApiRoutes } from "../shared/openapi-routes";

/**
 * First-party hosting of the browser SDK (ad blockers filter third-party CDNs and names like `analytics.js`).
 * The build is bundled into the Worker as text, so the ETag changes only when the script does.
 */
export const sdkAssetRoutes = openApiRoutes();

let etag: string | undefined;

const sdkRoute = createRoute({
  method: "get",
  path: "/sdk/tessera.min.js",
  tags: ["Browser SDK"],
  summary: "The browser SDK",
  description: "The minified SDK, served first-party. Cached a day, then revalidated by ETag.",
  parameters: [{ name: "If-None-Match", in: "header", schema: { type: "string" }, description: "A previous ETag." }],
  responses: {
    200: {
      description: "The script.",
      headers: { ETag: { schema: { type: "string" } }, "Cache-Control": { schema: { type: "string" } } },
      content: { "application/javascript": { schema: { type: "string" } } },
    },
    304: { description: "The script has not changed since the ETag given." },
  },
});

sdkAssetRoutes.openapi(sdkRoute, async (c) => {
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
