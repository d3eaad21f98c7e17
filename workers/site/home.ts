import { createRoute, z } from "@hono/zod-openapi";
import { openApiRoutes } from "../shared/openapi-routes";

/** `GET /` in production: what this host is and where its API is described. */
const Hello = z
  .object({
    name: z.literal("Tessera"),
    description: z.string(),
    docs: z.string().meta({ description: "The API reference, rendered.", example: "/docs" }),
    openapi: z.string().meta({ description: "The OpenAPI 3.1 document.", example: "/openapi.json" }),
  })
  .meta({ id: "Hello", description: "What this host is." });

const HELLO: z.infer<typeof Hello> = {
  name: "Tessera",
  description: "Customer data platform: Segment-compatible ingestion, identity resolution, profiles, audiences.",
  docs: "/docs",
  openapi: "/openapi.json",
};

/**
 * `GET /`: in local development (`ENVIRONMENT=development`, as `npm run dev` runs it) a small page linking the
 * console, the demo and the API docs, so whoever opens the dev server's address finds their way; anywhere else a
 * JSON hello pointing at the API docs, since a deployed collector's root is hit by monitors and curious people,
 * never by a browser user who needs pages.
 */
export const homeRoutes = openApiRoutes();

const homeRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["Meta"],
  summary: "Home",
  description:
    "In local development (`ENVIRONMENT=development`) an HTML page linking `/console`, `/demo` and `/docs`; " +
    "anywhere else a JSON hello.",
  responses: {
    200: {
      description: "The JSON hello, or in local development the page.",
      content: {
        "application/json": { schema: Hello },
        "text/html": { schema: { type: "string" } },
      },
    },
  },
});

homeRoutes.openapi(homeRoute, (c) => {
  if (c.env.ENVIRONMENT === "development") return c.html(PAGE);
  return c.json(HELLO, 200);
});

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tessera (local)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
a { color: #1d4ed8; }
li { margin: .4rem 0; }
</style>
</head>
<body>
<h1>Tessera</h1>
<p>The local development server. Where to go:</p>
<ul>
  <li><a href="/console">Console</a>: workspaces, sources, profiles, audiences and destinations.</li>
  <li><a href="/demo">Demo</a>: the browser SDK on a page, and your profile as events land.</li>
  <li><a href="/docs">API docs</a>: every route, from <a href="/openapi.json">/openapi.json</a>.</li>
</ul>
</body>
</html>
`;
