/** What every route's `createRoute` declaration shares: its error answers and who may call it. */
import type { RouteConfig, z } from "@hono/zod-openapi";
import { ErrorBody, type ErrorCode } from "@tessera/protocol";

type ResponseConfig = RouteConfig["responses"][string];

/** The code each error status carries in the envelope (`HttpError` in `errors.ts` throws exactly these pairs). */
const CODES = {
  400: "validation_error",
  401: "authentication_error",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  415: "validation_error",
  429: "rate_limit_error",
  503: "internal_error",
} as const satisfies Record<number, ErrorCode>;
export type ErrorStatus = keyof typeof CODES;

/** The `Retry-After` header of an answer that says when to send again. */
export const RETRY_AFTER = {
  "Retry-After": { description: "Seconds to wait before sending the request again.", schema: { type: "integer" } },
} as const;

/**
 * The error answers a route can give, each `{"error":{"code","message"}}` with its status's code; 429 and 503 say
 * when to retry. The description says when this route answers it.
 *
 * @example responses: { 200: …, ...errorResponses({ 401: BAD_SECRET_KEY, 404: "No source with this id." }) }
 */
export function errorResponses(when: Partial<Record<ErrorStatus, string>>): Record<string, ResponseConfig> {
  const responses: Record<string, ResponseConfig> = {};
  for (const [status, description] of Object.entries(when)) {
    const code = CODES[Number(status) as ErrorStatus];
    responses[status] = {
      description: `\`${code}\`: ${description}`,
      content: { "application/json": { schema: ErrorBody } },
      ...(status === "429" || status === "503" ? { headers: RETRY_AFTER } : {}),
    };
  }
  return responses;
}

/**
 * A JSON answer documented by `schema`; the route's handler is then type-checked against it.
 *
 * @example responses: { 200: jsonResponse(SourceList, "The sources.") }
 */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** `OPTIONS path`: a CORS preflight, answered for any origin with credentials (ingestion paths, `/v1/id`). */
export function preflightRouteDoc(path: string, tag: string): RouteConfig {
  return {
    method: "options",
    path,
    tags: [tag],
    operationId: `preflight${path.replace(/\W+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase())}`,
    summary: `CORS preflight of ${path}`,
    description: "Any origin may call, with credentials: the request's `Origin` is echoed.",
    responses: {
      204: {
        description: "The call is allowed.",
        headers: {
          "Access-Control-Allow-Origin": { description: "The request's Origin.", schema: { type: "string" } },
          "Access-Control-Allow-Credentials": { schema: { type: "string", enum: ["true"] } },
          "Access-Control-Allow-Methods": { schema: { type: "string" } },
          "Access-Control-Allow-Headers": { schema: { type: "string" } },
        },
      },
    },
  };
}

/** `components.securitySchemes` of `/openapi.json`; routes name them in `security`. */
export const SECURITY_SCHEMES = {
  writeKey: {
    type: "http",
    scheme: "basic",
    description:
      "A source's write key as the Basic user with an empty password (`base64(\"wk_…:\")`), as Segment's libraries " +
      "send it. A `writeKey` field in the body is accepted too, and a `writeKey` query parameter (RudderStack's beacons).",
  },
  secretKey: {
    type: "http",
    scheme: "bearer",
    description: "The workspace's secret key: `Authorization: Bearer sk_…`. A write key never reads.",
  },
  secretKeyBasic: {
    type: "http",
    scheme: "basic",
    description: "The workspace's secret key as the Basic user, empty password.",
  },
  adminToken: {
    type: "http",
    scheme: "bearer",
    description: "The deployment's `ADMIN_TOKEN` (a Worker secret): `Authorization: Bearer <token>`.",
  },
} as const;

type Security = Array<Partial<Record<keyof typeof SECURITY_SCHEMES, string[]>>>;
/** Ingestion: a source's write key. */
export const WRITE_KEY: Security = [{ writeKey: [] }];
/** Read and admin APIs of one workspace: its secret key, as Bearer or as Basic user. */
export const SECRET_KEY: Security = [{ secretKey: [] }, { secretKeyBasic: [] }];
/** Bootstrap and operator APIs: the deployment's admin token. */
export const ADMIN_TOKEN: Security = [{ adminToken: [] }];

/** The 401 of every secret-key route. */
export const BAD_SECRET_KEY = "No credentials, an unknown or revoked key, or a write key.";
/** The 401/403 of every admin-token route. */
export const BAD_ADMIN_TOKEN = "No or a wrong admin token.";
export const NO_ADMIN_TOKEN = "`ADMIN_TOKEN` is not configured on this deployment.";

/** The tag of routes that exist only in local development (`ENVIRONMENT=development`) and answer 404 elsewhere. */
export const DEVELOPMENT_TAG = "Development";
