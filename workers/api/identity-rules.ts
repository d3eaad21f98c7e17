import { Hono } from "hono";
import { updateIdentityRules } from "../../d1/queries/workspaces";
import {
  DEFAULT_IDENTITY_RULES,
  identityRulesToJson,
  invalidateIdentityRules,
  loadIdentityRules,
  parseIdentityRules,
} from "../identity/rules";
import type { AppEnv } from "../shared/app-env";
import { validationError } from "../shared/errors";
import { readJsonObject } from "./json-body";
import { requireSecretKey } from "./secret-key-auth";

/**
 * `GET /v1/identity-rules` shows the workspace's effective identity rules (Segment's defaults until changed);
 * `PUT /v1/identity-rules` replaces them. Fields left out of a PUT take the default; `{}` restores the defaults.
 * Other isolates pick a change up within the rules cache time (30 s); this one at once.
 *
 * @example PUT /v1/identity-rules {"limits":{"user_id":1,"email":2},"promoted_traits":["loyalty_id"]}
 */
export const identityRulesRoutes = new Hono<AppEnv>();

identityRulesRoutes.use("/v1/identity-rules", requireSecretKey);

identityRulesRoutes.get("/v1/identity-rules", async (c) => {
  const rules = await loadIdentityRules(c.env.DB, c.var.workspaceId);
  return c.json({ ...identityRulesToJson(rules), is_default: rules === DEFAULT_IDENTITY_RULES });
});

identityRulesRoutes.put("/v1/identity-rules", async (c) => {
  const body = await readJsonObject(c);
  const { is_default: _shown, ...rest } = body;
  const parsed = parseIdentityRules(rest);
  if (!parsed.ok) throw validationError(parsed.message);
  const json = identityRulesToJson(parsed.rules);
  await updateIdentityRules(c.env.DB, c.var.workspaceId, JSON.stringify(json));
  invalidateIdentityRules(c.var.workspaceId);
  return c.json({ ...json, is_default: false });
});
