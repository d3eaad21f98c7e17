/**
 * The web console (DESIGN §11) at `/console`: one HTML shell for every console page (the client routes) and the
 * build of `packages/console` (one script, one stylesheet) under `/console/assets/`, content-hashed so a release is
 * a new URL. The shell's CSP admits only this origin's script, style and API: the secret key lives in the page's
 * `sessionStorage`, so no other script may ever run there.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { CONSOLE_CSS, CONSOLE_JS, CONSOLE_VERSION } from "@tessera/console/assets";
import { notFound } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { errorResponses } from "../shared/route-docs";

/** Strict: nothing inline, nothing from elsewhere, no framing, no forms posting away, no `<base>` rewriting. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SCRIPT_FILE = `console-${CONSOLE_VERSION}.js`;
const STYLE_FILE = `console-${CONSOLE_VERSION}.css`;

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tessera console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/${STYLE_FILE}">
<script type="module" src="/console/assets/${SCRIPT_FILE}"></script>
</head>
<body>
<div id="app"><noscript>The Tessera console needs JavaScript.</noscript></div>
</body>
</html>
`;

const PAGE_HEADERS = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  // The shell names the current build's hashed files: it must be revalidated so a release reaches open tabs.
  "Cache-Control": "no-cache",
};

const htmlPage = {
  description: "The console's page.",
  content: { "text/html": { schema: { type: "string" as const } } },
};
const pageRoute = { method: "get" as const, tags: ["Console"], responses: { 200: htmlPage } };
const segment = (name: string, example: string) =>
  z.string().meta({ param: { name, in: "path" }, description: "A console page (the console routes it).", example });

export const consoleRoutes = openApiRoutes();

// Before the page routes: `/console/assets/{file}` would match `/console/{section}/{item}` too.
consoleRoutes.openapi(
  createRoute({
    method: "get",
    path: "/console/assets/{file}",
    tags: ["Console"],
    summary: "The console's script and stylesheet",
    description: "Content-hashed file names, cached for a year.",
    request: { params: z.object({ file: segment("file", SCRIPT_FILE) }) },
    responses: {
      200: {
        description: "The file.",
        content: { "text/javascript": { schema: { type: "string" } }, "text/css": { schema: { type: "string" } } },
      },
      ...errorResponses({ 404: "Not a file of this build." }),
    },
  }),
  (c) => {
    const { file } = c.req.valid("param");
    const headers = { "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff" };
    if (file === SCRIPT_FILE) return c.body(CONSOLE_JS, 200, { ...headers, "Content-Type": "text/javascript" });
    if (file === STYLE_FILE) return c.body(CONSOLE_CSS, 200, { ...headers, "Content-Type": "text/css" });
    throw notFound(`No console file ${file} in this build`);
  },
);

consoleRoutes.openapi(createRoute({ ...pageRoute, path: "/console", summary: "The web console" }), (c) =>
  c.html(SHELL, 200, PAGE_HEADERS),
);
consoleRoutes.openapi(
  createRoute({
    ...pageRoute,
    path: "/console/{section}",
    summary: "A console section",
    request: { params: z.object({ section: segment("section", "profiles") }) },
  }),
  (c) => c.html(SHELL, 200, PAGE_HEADERS),
);
consoleRoutes.openapi(
  createRoute({
    ...pageRoute,
    path: "/console/{section}/{item}",
    summary: "A console page",
    request: {
      params: z.object({
        section: segment("section", "profiles"),
        item: segment("item", "email%3Ajane%40example.com"),
      }),
    },
  }),
  (c) => c.html(SHELL, 200, PAGE_HEADERS),
);
// Any deeper path (`/console/a/b/c`): the shell, whose router shows the console's "Not found" page, rather than the
// API's JSON 404. Registered after the routes above, which answer first. Assets keep their JSON 404.
consoleRoutes.openAPIRegistry.registerPath({
  ...pageRoute,
  path: "/console/*",
  summary: "Any other console path",
  description:
    "Deeper paths under `/console/` (`/console/a/b/c`) answer the same shell: no console page is that deep, and the " +
    "console's own page says it was not found. Paths under `/console/assets/` that are not files of this build are a 404.",
  responses: {
    ...pageRoute.responses,
    ...errorResponses({ 404: "Under `/console/assets/`: not a file of this build." }),
  },
});
consoleRoutes.get("/console/*", (c) => {
  if (c.req.path.startsWith("/console/assets/")) throw notFound(`No console file ${c.req.path} in this build`);
  return c.html(SHELL, 200, PAGE_HEADERS);
});
