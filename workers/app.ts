import { Hono } from "hono";
import { errorEnvelope, notFoundEnvelope } from "./shared/error-envelope";

/** The HTTP surface: each part mounts its own sub-app. */
export const app = new Hono<{ Bindings: Env }>();

app.get("/health", (c) => c.json({ ok: true }));

app.onError(errorEnvelope);
app.notFound(notFoundEnvelope);
