/**
 * The admin API: workspace bootstrap (ADMIN_TOKEN), sources with their write keys and secret key rotation (secret key), and the local dev
 * workspace seed (ADMIN_TOKEN, development only).
 */
import { openApiRoutes } from "../shared/openapi-routes";
import { devSeedRoutes } from "./dev-seed";
import { secretKeyRoutes } from "./secret-keys";
import { sourceRoutes } from "./sources";
import { workspaceRoutes } from "./workspaces";

export const adminRoutes = openApiRoutes()
  .route("/", workspaceRoutes)
  .route("/", sourceRoutes)
  .route("/", secretKeyRoutes)
  .route("/", devSeedRoutes);
