/**
 * The admin API: workspace bootstrap (ADMIN_TOKEN), sources with their write keys (secret key), and the local dev
 * workspace seed (ADMIN_TOKEN, development only).
 */
import { Hono } from "hono";
import type { AppEnv } from "../shared/app-env";
import { devSeedRoutes } from "./dev-seed";
import { sourceRoutes } from "./sources";
import { workspaceRoutes } from "./workspaces";

export const adminRoutes = new Hono<AppEnv>()
  .route("/", workspaceRoutes)
  .route("/", sourceRoutes)
  .route("/", devSeedRoutes);
