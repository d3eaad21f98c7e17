/**
 * The HTTP contract as a document: `GET /openapi.json` is generated from the same `createRoute` declarations (and
 * zod schemas) that route and validate requests, and `GET /docs` renders it with Scalar.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { AppEnv } from "../shared/app-env";
import { MAX_IDEMPOTENCY_KEY_LENGTH } from "../shared/idempotency-key";
import { openApiRoutes } from "../shared/openapi-routes";
import { DEVELOPMENT_TAG, jsonResponse, RETRY_AFTER, SECURITY_SCHEMES } from "../shared/route-docs";

const DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "Tessera API",
    version: "1",
    description:
      "Segment-compatible ingestion, the profile read API and the admin API of a Tessera deployment. " +
      'Every error answers `{"error":{"code","message"}}`.',
  },
  tags: [
    { name: "Ingestion", description: "Segment HTTP Tracking API: any Segment or RudderStack client works unchanged." },
    { name: "Profiles", description: "Unified profiles, their events and merges; GDPR delete." },
    { name: "Identity", description: "How identity resolution matches and merges profiles." },
    { name: "Admin", description: "Workspaces, sources and their keys." },
    {
      name: "Audiences",
      description: "Audiences and computed traits, kept current in real time in each profile (DESIGN §6).",
    },
    {
      name: "Destinations",
      description: "Where audiences are synced (MAPs and webhooks): status, sync log, dead letters (DESIGN §7).",
    },
    {
      name: "Operations",
      description: "Repairs (DESIGN §12): ingest dead letters and their replay, merge undo.",
    },
    { name: "Browser SDK", description: "What the browser SDK loads and calls besides ingestion." },
    { name: DEVELOPMENT_TAG, description: "Local development only (`npm run dev`)." },
    { name: "Meta", description: "Health and this document." },
  ],
};

/**
 * Where `/docs` loads Scalar from: this deployment's static assets, not a CDN, so the page renders offline (`npm run
 * dev` on a plane) and runs the version package-lock.json pins — 1.71.0, what the unpinned CDN served when
 * `@scalar/hono-api-reference` 0.12.4 came out. `npm run build` copies the devDependency `@scalar/api-reference` there
 * under a name with its version (scripts/docs-assets.mjs): bump both together. Given `cdn`, Scalar loads its
 * single-file build, which fetches no chunks of its own.
 */
export const SCALAR_SCRIPT_PATH = "/docs/assets/scalar-api-reference-1.71.0.js";

/**
 * `agent` ("Ask AI") is an option of the pinned 1.71.0 bundle that the config types of `@scalar/hono-api-reference`
 * 0.12.4 do not list yet; the wrapper passes the object to the bundle as JSON, unknown keys included.
 */
const SCALAR_AGENT_OFF = { agent: { disabled: true } } as object;

const OpenApiDocument = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.looseObject({}),
});
type OpenApiDocument = z.infer<typeof OpenApiDocument>;

/**
 * The document and the docs page for `root`, the app every part is mounted on. Mount this last: the document is
 * built on the first request (then kept: routes do not change at run time) from what `root` holds by then.
 *
 * @example app.route("/", apiDocsRoutes(app));
 */
export function apiDocsRoutes(root: OpenAPIHono<AppEnv>): OpenAPIHono<AppEnv> {
  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) {
    root.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  }
  root.openAPIRegistry.registerComponent("parameters", IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_PARAMETER);
  let document: OpenApiDocument | undefined;
  const renderDocs = Scalar<AppEnv>({
    url: "/openapi.json",
    pageTitle: "Tessera API",
    cdn: SCALAR_SCRIPT_PATH,
    // Scalar's own fonts come from its servers: the system's, as in the console, keep the page free of other hosts.
    withDefaultFonts: false,
    // Nothing of an operator's API leaves the deployment through the docs page: no usage telemetry to Scalar (on by
    // default), and none of the buttons that send the document to Scalar's services (its AI chat, MCP generation,
    // the developer tools' share/deploy shown on localhost).
    telemetry: false,
    mcp: { disabled: true },
    showDeveloperTools: "never",
    ...SCALAR_AGENT_OFF,
  });
  return openApiRoutes()
    .openapi(
      createRoute({
        method: "get",
        path: "/openapi.json",
        tags: ["Meta"],
        summary: "This document",
        description: "The OpenAPI 3.1 description of every route of this deployment.",
        responses: {
          200: jsonResponse(OpenApiDocument, "The document."),
        },
      }),
      (c) => {
        // The generator's types allow `undefined` where JSON has no value; the document itself is plain JSON.
        document ??= forDeployment(
          withIdempotencyKeys(root.getOpenAPI31Document(DOCUMENT) as unknown as OpenApiDocument),
          c.env.ENVIRONMENT === "development",
        );
        return c.json(document, 200);
      },
    )
    .openapi(
      createRoute({
        method: "get",
        path: "/docs",
        tags: ["Meta"],
        summary: "API reference",
        description: "This document, rendered for people.",
        responses: { 200: { description: "The page.", content: { "text/html": { schema: { type: "string" } } } } },
      }),
      (c, next) => renderDocs(c, next) as Promise<Response>,
    );
}

const IDEMPOTENCY_KEY = "IdempotencyKey";

/** The header `requireSecretKey` honours on every call that changes something (`workers/api/idempotency.ts`). */
const IDEMPOTENCY_KEY_PARAMETER = {
  name: "Idempotency-Key",
  in: "header" as const,
  required: false,
  description:
    "Any string unique to this call (a UUID): sent again with the same key, the call runs once and the answer " +
    "to the first is given again, marked `Idempotent-Replayed: true` (kept a day; only a success is kept, and not " +
    "one carrying a new key: otherwise the retry runs afresh). The same key with another method, path or body " +
    "answers 400; sent while the first call still runs, 409 with `Retry-After`.",
  schema: { type: "string" as const, minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
};

/** The answers the `Idempotency-Key` gives any call that honours it, added to what the route itself answers. */
const IDEMPOTENCY_KEY_ANSWERS = {
  "400": { code: "validation_error", when: "this `Idempotency-Key` came before with another method, path or body" },
  "409": { code: "conflict", when: "the first call with this `Idempotency-Key` still runs; retry after `Retry-After`" },
} as const;

/**
 * Names the `Idempotency-Key` parameter on every secret-key operation that changes something, with the 400 and 409
 * it can answer: the secret-key middleware honours it on all of them, so it is declared here once rather than on
 * each route.
 */
function withIdempotencyKeys(document: OpenApiDocument): OpenApiDocument {
  for (const item of Object.values(document.paths) as Array<Record<string, OpenApiOperation>>) {
    for (const [method, operation] of Object.entries(item)) {
      if (method === "get" || method === "head" || method === "options") continue;
      if (!operation.security?.some((requirement) => "secretKey" in requirement)) continue;
      operation.parameters = [...(operation.parameters ?? []), { $ref: `#/components/parameters/${IDEMPOTENCY_KEY}` }];
      operation.responses ??= {};
      for (const [status, { code, when }] of Object.entries(IDEMPOTENCY_KEY_ANSWERS)) {
        const own = operation.responses[status];
        operation.responses[status] = own
          ? { ...own, description: `${own.description} Or ${when}.` }
          : {
              description: `\`${code}\`: ${when[0].toUpperCase()}${when.slice(1)}.`,
              content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } },
            };
        if (status === "409") operation.responses[status].headers = { ...own?.headers, ...RETRY_AFTER };
      }
    }
  }
  return document;
}

interface OpenApiResponse {
  description: string;
  headers?: Record<string, unknown>;
  content?: unknown;
}

interface OpenApiOperation {
  security?: Array<Record<string, string[]>>;
  parameters?: unknown[];
  responses?: Record<string, OpenApiResponse>;
}

/** The document as this deployment serves it: outside local development, without the routes that answer 404 there. */
function forDeployment(document: OpenApiDocument, development: boolean): OpenApiDocument {
  if (development) return document;
  const tagged = (item: unknown) =>
    Object.values(item as Record<string, { tags?: string[] }>).some((op) => op?.tags?.includes(DEVELOPMENT_TAG));
  const tags = (document.tags as Array<{ name: string }> | undefined)?.filter((t) => t.name !== DEVELOPMENT_TAG);
  return {
    ...document,
    paths: Object.fromEntries(Object.entries(document.paths).filter(([, item]) => !tagged(item))),
    ...(tags ? { tags } : {}),
  };
}
