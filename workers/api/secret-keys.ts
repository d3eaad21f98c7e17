/**
 * Secret key rotation: `POST /v1/secret-keys` issues another key, `DELETE /v1/secret-keys` revokes every secret key
 * of the workspace except the one making the call — so a caller moves to the new key, then revokes the rest with it.
 */
import { createRoute } from "@hono/zod-openapi";
import { EmptyBody, SecretKeyCreated, SecretKeysRevoked } from "@tessera/protocol";
import { createSecretKey } from "../../d1/provision";
import { revokeKeys } from "../../d1/queries/api-keys";
import { forgetCachedKeys } from "../shared/api-keys";
import { unauthenticated } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse, SECRET_KEY } from "../shared/route-docs";
import { SHOWN_ONCE } from "./idempotency";
import { BODY_TOO_LARGE, optionalJsonBody } from "./json-body";
import { issuerOf, REVOKED_MEANWHILE, requireSecretKey } from "./secret-key-auth";

export const secretKeyRoutes = openApiRoutes()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/secret-keys",
      tags: ["Admin"],
      summary: "Issue another secret key",
      description: "A new secret key for the workspace; the old ones keep working until revoked.",
      security: SECRET_KEY,
      middleware: [requireSecretKey, optionalJsonBody],
      request: { body: { required: false, content: { "application/json": { schema: EmptyBody } } } },
      responses: {
        201: jsonResponse(SecretKeyCreated, "Created; the key is in this answer only."),
        ...errorResponses({ 413: BODY_TOO_LARGE, 400: "The body is not `{}` (or left out).", 401: BAD_SECRET_KEY }),
      },
    }),
    async (c) => {
      const secretKey = await createSecretKey(c.env.DB, await issuerOf(c));
      if (secretKey === null) throw unauthenticated(REVOKED_MEANWHILE);
      return c.json({ secret_key: secretKey }, 201, SHOWN_ONCE);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/secret-keys",
      tags: ["Admin"],
      summary: "Revoke every other secret key",
      description:
        "Revokes every secret key of the workspace except the one this request authenticates with. Every isolate " +
        "stops accepting a revoked key within a second; this one at once.",
      security: SECRET_KEY,
      middleware: [requireSecretKey],
      responses: { 200: jsonResponse(SecretKeysRevoked, "Revoked."), ...errorResponses({ 401: BAD_SECRET_KEY }) },
    }),
    async (c) => {
      const caller = await issuerOf(c);
      const revoked = await revokeKeys(
        c.env.DB,
        { workspaceId: caller.workspaceId, kind: "secret", keep: { hash: caller.keyHash } },
        Date.now(),
      );
      forgetCachedKeys();
      // The caller's own key was revoked meanwhile (by another key's call, on another isolate): revoking the others
      // too would leave the workspace without a secret key, so this call changed nothing.
      if (revoked === null) throw unauthenticated("This secret key was revoked meanwhile; nothing was revoked");
      return c.json({ revoked }, 200);
    },
  );
