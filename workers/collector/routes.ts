import { Hono } from "hono";
import type { AppEnv } from "../shared/app-env";

// Placeholder sub-app: replaced by the part that owns this file.
export const collectorRoutes = new Hono<AppEnv>();
