import { createRoute, z } from "@hono/zod-openapi";
import { adminRoutes } from "./api/admin";
import { audienceRoutes } from "./api/audiences";
import { computedTraitRoutes } from "./api/computed-traits";
import { deadLetterRoutes } from "./api/dead-letters";
import { deletionRoutes } from "./api/deletions";
import { destinationTestRoutes } from "./api/destination-test";
import { destinationRoutes } from "./api/destinations";
import { liveEventRoutes } from "./api/events-live";
import { identityRulesRoutes } from "./api/identity-rules";
import { mergeUndoRoutes } from "./api/merge-undo";
import { apiDocsRoutes } from "./api/openapi";
import { profileRoutes } from "./api/profiles";
import { collectorRoutes } from "./collector/routes";
import { errorEnvelope, noRouteEnvelope } from "./shared/error-envelope";
import { openApiRoutes } from "./shared/openapi-routes";
import { jsonResponse } from "./shared/route-docs";
import { consoleRoutes } from "./site/console";
import { demoPageRoutes } from "./site/demo-page";
import { homeRoutes } from "./site/home";
import { idCookieRoutes } from "./site/id-cookie";
import { sdkAssetRoutes } from "./site/sdk-assets";
import { inboundRoutes } from "./sync/inbound-routes";

/** The HTTP surface: each part owns a sub-app, mounted here and nowhere else; `/openapi.json` describes them all. */
export const app = openApiRoutes();

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["Meta"],
  summary: "Liveness",
  responses: { 200: jsonResponse(z.object({ ok: z.literal(true) }), "The Worker is up.") },
});
app.openapi(health, (c) => c.json({ ok: true as const }, 200));
app.route("/", collectorRoutes);
app.route("/", idCookieRoutes);
app.route("/", sdkAssetRoutes);
app.route("/", profileRoutes);
app.route("/", deletionRoutes);
app.route("/", identityRulesRoutes);
app.route("/", adminRoutes);
app.route("/", audienceRoutes);
app.route("/", computedTraitRoutes);
app.route("/", destinationRoutes);
app.route("/", destinationTestRoutes);
app.route("/", inboundRoutes);
app.route("/", deadLetterRoutes);
app.route("/", mergeUndoRoutes);
app.route("/", liveEventRoutes);
app.route("/", consoleRoutes);
app.route("/", demoPageRoutes);
app.route("/", homeRoutes);
app.route("/", apiDocsRoutes(app));

app.onError(errorEnvelope);
app.notFound(noRouteEnvelope(app.routes));
