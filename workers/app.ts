import { Hono } from "hono";
import { adminRoutes } from "./api/admin";
import { demoPageRoutes } from "./site/demo-page";
import { identityRulesRoutes } from "./api/identity-rules";
import { profileRoutes } from "./api/profiles";
import { idCookieRoutes } from "./site/id-cookie";
import { collectorRoutes } from "./collector/routes";
import { sdkAssetRoutes } from "./site/sdk-assets";
import type { AppEnv } from "./shared/app-env";
import { errorEnvelope, notFoundEnvelope } from "./shared/error-envelope";

/** The HTTP surface: each part owns a sub-app, mounted here and nowhere else. */
export const app = new Hono<AppEnv>();

app.get("/health", (c) => c.json({ ok: true }));
app.route("/", collectorRoutes);
app.route("/", idCookieRoutes);
app.route("/", sdkAssetRoutes);
app.route("/", profileRoutes);
app.route("/", identityRulesRoutes);
app.route("/", adminRoutes);
app.route("/", demoPageRoutes);

app.onError(errorEnvelope);
app.notFound(notFoundEnvelope);
