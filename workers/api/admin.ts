/** The admin API: workspace bootstrap (ADMIN_TOKEN) and sources with their write keys (secret key). */
import { Hono } from "hono";
import type { AppEnv } from "../shared/app-env";
import { sourceRoutes } from "./sources";
import { workspaceRoutes } from "./workspaces";

export const adminRoutes = new Hono<AppEnv>().route("/", workspaceRoutes).route("/", sourceRoutes);
