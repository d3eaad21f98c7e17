import { exports } from "cloudflare:workers";
import type { OpenAPIV3_1 } from "openapi-types";
import { describe, expect, it } from "vitest";
import { app } from "../app";
import { DEVELOPMENT_TAG } from "../shared/route-docs";
import { secretKeyOrAdminToken } from "./dead-letters";
import { requireSecretKey } from "./secret-key-auth";

async function document(): Promise<OpenAPIV3_1.Document> {
  const res = await exports.default.fetch("http://x/openapi.json");
  expect(res.status).toBe(200);
  return res.json<OpenAPIV3_1.Document>();
}

/** The paths of the routes declared for local development only (their tag), as the route declarations name them. */
const developmentOnly = () =>
  new Set(
    app.openAPIRegistry.definitions.flatMap((d) =>
      d.type === "route" && d.route.tags?.includes(DEVELOPMENT_TAG) ? [d.route.path] : [],
    ),
  );

/** Hono's `/v1/profiles/:ref` is OpenAPI's `/v1/profiles/{ref}`. */
const openApiPath = (honoPath: string) => honoPath.replace(/:(\w+)/g, "{$1}");

// That the document is valid OpenAPI 3.1 is checked on the Node side (test/openapi-document.test.ts): the validator
// is CommonJS requiring an ES module, which workerd's module loader cannot do.
describe("GET /openapi.json", () => {
  it("describes every method and path the Worker routes", async () => {
    const doc = await document();
    const paths = doc.paths ?? {};
    const missing: string[] = [];
    for (const { method, path } of app.routes) {
      // Local development's own routes answer 404 here (ENVIRONMENT=test), so the document leaves them out (below).
      if (developmentOnly().has(openApiPath(path))) continue;
      const item = paths[openApiPath(path)] as Record<string, unknown> | undefined;
      // `ALL` is middleware (`use`: CORS, …): its path must be documented; the methods it serves are checked below.
      const known = method === "ALL" ? item !== undefined : item?.[method.toLowerCase()] !== undefined;
      if (!known) missing.push(`${method} ${path}`);
    }
    expect(missing).toEqual([]);
  });

  it("leaves out, outside local development, the routes that exist only there", async () => {
    const doc = await document();
    expect([...developmentOnly()].sort()).toEqual(["/demo", "/dev/seed"]);
    for (const path of developmentOnly()) expect(doc.paths?.[path], path).toBeUndefined();
    expect(doc.tags?.map((t) => t.name)).not.toContain(DEVELOPMENT_TAG);
    expect(doc.tags?.map((t) => t.name)).toContain("Profiles");
  });

  it("documents the Segment short aliases and the CORS preflight of every ingestion path", async () => {
    const paths = (await document()).paths ?? {};
    for (const path of ["/v1/batch", "/v1/b", "/v1/track", "/v1/t", "/v1/identify", "/v1/i", "/v1/alias", "/v1/a"]) {
      expect(paths[path]?.post?.responses?.["200"], path).toBeDefined();
      expect(paths[path]?.options, path).toBeDefined();
    }
    expect(paths["/v1/t"]?.post?.summary).toBe("Alias of POST /v1/track");
  });

  it("names the error answers and the credentials of each route", async () => {
    const doc = await document();
    const paths = doc.paths ?? {};
    const batch = paths["/v1/batch"]?.post;
    expect(Object.keys(batch?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "400", "401", "413", "429", "503"]),
    );
    expect(batch?.responses?.["429"]).toHaveProperty(["headers", "Retry-After"]);
    expect(batch?.security).toEqual([{ writeKey: [] }]);
    expect(paths["/v1/profiles/{ref}"]?.get?.security).toEqual([{ secretKey: [] }, { secretKeyBasic: [] }]);
    expect(paths["/v1/workspaces"]?.post?.security).toEqual([{ adminToken: [] }]);
    expect(Object.keys(doc.components?.securitySchemes ?? {}).sort()).toEqual([
      "adminToken",
      "secretKey",
      "secretKeyBasic",
      "writeKey",
    ]);
    const notFound = paths["/v1/profiles/{ref}"]?.get?.responses?.["404"] as OpenAPIV3_1.ResponseObject;
    expect(notFound.content?.["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/ErrorBody" });
  });

  it("names Idempotency-Key on exactly the calls that honour it: every secret-key call that changes something", async () => {
    const doc = await document();
    const honouring = new Set(
      app.routes
        .filter((r) => [requireSecretKey, secretKeyOrAdminToken].includes(r.handler as never))
        .filter((r) => !["GET", "HEAD"].includes(r.method))
        .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`),
    );
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths ?? {}))
      for (const [method, operation] of Object.entries(item ?? {}))
        if (
          (operation as OpenAPIV3_1.OperationObject).parameters?.some((p) => "$ref" in p && /Idempotency/.test(p.$ref))
        )
          documented.add(`${method} ${path}`);
    expect(honouring).toContain("post /v1/sources");
    expect(honouring).toContain("delete /v1/profiles/{ref}");
    expect([...documented].sort()).toEqual([...honouring].sort());
    expect(doc.components?.parameters?.IdempotencyKey).toMatchObject({ name: "Idempotency-Key", in: "header" });
    // And the answers the key gives on each: 400 (sent with another call), 409 (the first still runs).
    const paths = doc.paths ?? {};
    for (const call of documented) {
      const [method, path] = call.split(" ");
      const { responses } = (paths[path] as Record<string, OpenAPIV3_1.OperationObject>)[method];
      expect(responses?.["400"], call).toBeDefined();
      expect(
        (responses?.["409"] as OpenAPIV3_1.ResponseObject | undefined)?.headers?.["Retry-After"],
        call,
      ).toBeDefined();
    }
  });

  it("declares a rejected message's null `message` in the live feed's schema", async () => {
    const doc = await document();
    const liveEvent = doc.components?.schemas?.LiveEvent as OpenAPIV3_1.SchemaObject;
    const message = liveEvent.properties?.message as OpenAPIV3_1.SchemaObject | undefined;
    expect(message?.type).toEqual(["object", "null"]);
  });

  it("documents the 413 of every route that reads a JSON body", async () => {
    const doc = await document();
    const undocumented: string[] = [];
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const [method, operation] of Object.entries(item ?? {})) {
        const op = operation as OpenAPIV3_1.OperationObject;
        const body = op.requestBody as OpenAPIV3_1.RequestBodyObject | undefined;
        if (body?.content?.["application/json"] && !op.responses?.["413"]) undocumented.push(`${method} ${path}`);
      }
    }
    expect(undocumented).toEqual([]);
  });

  it("documents request bodies, query and path parameters from the schemas that validate them", async () => {
    const doc = await document();
    const paths = doc.paths ?? {};
    const body = paths["/v1/identity-rules"]?.put?.requestBody as OpenAPIV3_1.RequestBodyObject;
    expect(body.content["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/IdentityRulesUpdate" });
    const events = paths["/v1/profiles/{ref}/events"]?.get?.parameters as OpenAPIV3_1.ParameterObject[];
    expect(events.map((p) => `${p.in}:${p.name}`).sort()).toEqual([
      "path:ref",
      "query:cursor",
      "query:event",
      "query:limit",
      "query:type",
    ]);
    const batch = paths["/v1/batch"]?.post?.requestBody as OpenAPIV3_1.RequestBodyObject;
    expect(batch.content["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/BatchEnvelope" });
  });
});

describe("GET /docs", () => {
  it("renders the document as an HTML page", async () => {
    const res = await exports.default.fetch("http://x/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).toContain("/openapi.json");
  });
});
