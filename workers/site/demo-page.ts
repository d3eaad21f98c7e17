import { createRoute } from "@hono/zod-openapi";
import { SNIPPET_MIN_JS as snippet } from "@tessera/browser/assets";
import { notFound } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { DEVELOPMENT_TAG, errorResponses } from "../shared/route-docs";

/** The seeded local-dev keys (DESIGN §9). The secret appears in a page only here, and only in development. */
const DEV_WRITE_KEY = "wk_dev";
const DEV_SECRET_KEY = "sk_dev";

/**
 * `GET /demo` in local dev: the inline snippet on a page with buttons for track, identify and reset, and the
 * visitor's profile as the profile API shows it, refreshed every second, so a newcomer sees events land.
 * Anywhere but `ENVIRONMENT=development` it does not exist.
 */
export const demoPageRoutes = openApiRoutes();

const demoRoute = createRoute({
  method: "get",
  path: "/demo",
  tags: [DEVELOPMENT_TAG],
  summary: "Demo page",
  description: "Local development only (`ENVIRONMENT=development`; 404 anywhere else): the SDK on a page, live.",
  responses: {
    200: { description: "The page.", content: { "text/html": { schema: { type: "string" } } } },
    ...errorResponses({ 404: "Not a development deployment." }),
  },
});

demoPageRoutes.openapi(demoRoute, (c) => {
  if (c.env.ENVIRONMENT !== "development") throw notFound(`No route for GET ${c.req.path}`);
  return c.html(page(snippet));
});

const page = (snippetSource: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tessera demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script>${snippetSource}
tessera.load(${JSON.stringify(DEV_WRITE_KEY)}, { apiHost: location.origin, flushInterval: 500 });
tessera.page();</script>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
button, input { font: inherit; padding: .35rem .7rem; margin: .2rem .3rem .2rem 0; }
pre { background: #f5f5f4; padding: 1rem; overflow: auto; max-height: 28rem; font-size: 13px; }
code { background: #f5f5f4; padding: 0 .25rem; }
</style>
</head>
<body>
<h1>Tessera demo</h1>
<p>This page loads the SDK through the inline snippet with the dev write key <code>${DEV_WRITE_KEY}</code>.
Click around, then watch your profile below (read with the dev secret, which only this local page may show).</p>
<p>
  <button id="track">track("Demo Button Clicked")</button>
  <input id="email" type="email" value="jane@example.com" aria-label="email">
  <button id="identify">identify("user-1", { email })</button>
  <button id="reset">reset()</button>
</p>
<p>Anonymous id <code id="aid">…</code> · user id <code id="uid">…</code></p>
<h2>Your profile</h2>
<pre id="profile">Waiting for the first event…</pre>
<h2>Recent events</h2>
<pre id="events"></pre>
<script>
const $ = (id) => document.getElementById(id);
let clicks = 0;
$("track").onclick = () => tessera.track("Demo Button Clicked", { clicks: ++clicks });
$("identify").onclick = () => tessera.identify("user-1", { email: $("email").value });
$("reset").onclick = () => { tessera.reset(); tessera.page(); };
async function refresh() {
  const user = tessera.user && tessera.user();
  if (!user) return;
  $("aid").textContent = user.anonymousId;
  $("uid").textContent = user.userId || "none";
  const ref = encodeURIComponent("anonymous_id:" + user.anonymousId);
  const headers = { Authorization: "Bearer ${DEV_SECRET_KEY}" };
  const res = await fetch("/v1/profiles/" + ref, { headers });
  if (!res.ok) return;
  $("profile").textContent = JSON.stringify(await res.json(), null, 2);
  const events = await fetch("/v1/profiles/" + ref + "/events?limit=10", { headers });
  if (events.ok) $("events").textContent = JSON.stringify((await events.json()).data, null, 2);
}
setInterval(() => refresh().catch(() => {}), 1000);
</script>
</body>
</html>
`;
