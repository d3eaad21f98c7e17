/**
 * The Worker as `wrangler dev` runs it on this machine (`npm run dev` and the tests, scripts/local-platform.mjs): the
 * deployed Worker (workers/index.ts), which also serves the API reference's Scalar bundle that static assets serve
 * once deployed. Locally the Worker has no static assets because wrangler 4.86 then answers DESIGN §9's
 * `GET /cdn-cgi/handler/scheduled` with 500 "exception": the assets router it puts in front of such a Worker has no
 * scheduled handler (measured: the same Worker and state without `[assets]` answers 200 "ok").
 */
import scalarBundle from "../.wrangler/docs-assets/scalar-api-reference.txt";
import { SCALAR_SCRIPT_PATH } from "./api/openapi";
import worker from "./index";

export { DestinationDO, LiveEventsDO, ProfileDO } from "./index";

export default {
  ...worker,
  fetch(request, env, ctx) {
    if (request.method === "GET" && new URL(request.url).pathname === SCALAR_SCRIPT_PATH)
      return new Response(scalarBundle, {
        // As workers/public/_headers has it deployed: the name carries the version.
        headers: {
          "content-type": "text/javascript; charset=utf-8",
          "cache-control": "public, max-age=31536000, immutable",
        },
      });
    return worker.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
