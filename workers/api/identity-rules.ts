import { createRoute } from "@hono/zod-openapi";
import { IdentityRulesUpdate, IdentityRulesView } from "@tessera/protocol";
import { updateIdentityRules } from "../../d1/queries/workspaces";
import {
  DEFAULT_IDENTITY_RULES,
  identityRulesFromUpdate,
  identityRulesToJson,
  invalidateIdentityRules,
  loadIdentityRules,
} from "../identity/rules";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse, SECRET_KEY } from "../shared/route-docs";
import { BODY_TOO_LARGE, jsonBody } from "./json-body";
import { requireSecretKey } from "./secret-key-auth";

/**
 * `GET /v1/identity-rules` shows the workspace's effective identity rules (Segment's defaults until changed);
 * `PUT /v1/identity-rules` replaces them. Fields left out of a PUT take the default; `{}` restores the defaults.
 * Other isolates pick a change up within the rules cache time (30 s); this one at once.
 *
 * @example PUT /v1/identity-rules {"limits":{"user_id":1,"email":2},"promoted_traits":["loyalty_id"]}
 */
export const identityRulesRoutes = openApiRoutes()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/identity-rules",
      tags: ["Identity"],
      summary: "Show the identity rules",
      description: "The workspace's effective identity resolution rules: Segment's defaults until changed.",
      security: SECRET_KEY,
      middleware: [requireSecretKey],
      responses: { 200: jsonResponse(IdentityRulesView, "The rules."), ...errorResponses({ 401: BAD_SECRET_KEY }) },
    }),
    async (c) => {
      const rules = await loadIdentityRules(c.env.DB, c.var.workspaceId);
      return c.json({ ...identityRulesToJson(rules), is_default: rules === DEFAULT_IDENTITY_RULES }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/v1/identity-rules",
      tags: ["Identity"],
      summary: "Replace the identity rules",
      description:
        "Fields left out take Segment's default; `{}` restores the defaults. Types left out of `limits` keep " +
        "Segment's limit for them (`user_id` 1, then `default_limit`). Unknown fields are refused. Other " +
        "isolates pick a change up within the rules cache time (30 s); this one at once.",
      security: SECRET_KEY,
      middleware: [requireSecretKey, jsonBody],
      request: { body: { required: true, content: { "application/json": { schema: IdentityRulesUpdate } } } },
      responses: {
        200: jsonResponse(IdentityRulesView, "The rules now in force."),
        ...errorResponses({
          413: BODY_TOO_LARGE,
          400: "The body is not a JSON object of valid rules; `message` names the field.",
          401: BAD_SECRET_KEY,
        }),
      },
    }),
    async (c) => {
      const json = identityRulesToJson(identityRulesFromUpdate(c.req.valid("json")));
      await updateIdentityRules(c.env.DB, c.var.workspaceId, JSON.stringify(json));
      invalidateIdentityRules(c.var.workspaceId);
      return c.json({ ...json, is_default: false }, 200);
    },
  );
