import SwaggerParser from "@apidevtools/swagger-parser";
import type { OpenAPIV3_1 } from "openapi-types";
import { describe, expect, it } from "vitest";
import { useDevServer } from "./support/dev-server";

/** `/openapi.json` as `npm run dev` serves it, checked by an OpenAPI validator that clients' tooling also uses. */
describe("/openapi.json from the dev server", () => {
  const dev = useDevServer();

  it("is a valid OpenAPI 3.1 document whose every $ref resolves", async () => {
    const res = await fetch(`${dev().url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenAPIV3_1.Document;
    expect(doc.openapi).toBe("3.1.0");
    const validated = await SwaggerParser.validate(doc);
    expect(Object.keys(validated.paths ?? {})).toContain("/v1/batch");
  });
});
