/**
 * `/v1/audiences` (DESIGN §6): segments of profiles kept current in real time. The routes are the definitions
 * resource of `definition-routes.ts`; what is particular to audiences is that they may refer to other audiences and
 * to computed traits, which must exist and must not form a cycle, and that destinations sync them (DESIGN §7).
 */
import {
  Audience,
  AudienceCreate,
  type AudienceDefinition,
  AudienceList,
  AudiencePreviewRequest,
  AudienceUpdate,
} from "@tessera/protocol";
import { unlistAudience } from "../../d1/queries/destinations";
import { validateAudienceDefinition } from "../audiences/validate-definition";
import { forgetDestinations } from "../sync/consumer";
import { definitionRoutes } from "./definition-routes";

export const audienceRoutes = definitionRoutes<AudienceDefinition>({
  kind: "audience",
  path: "/v1/audiences",
  noun: "audience",
  exampleKey: "lapsed_store_buyers",
  schemas: {
    view: Audience,
    list: AudienceList,
    create: AudienceCreate,
    update: AudienceUpdate,
    preview: AudiencePreviewRequest,
  },
  referenceProblem(definition, context) {
    const check = validateAudienceDefinition(definition, context);
    return check.ok ? undefined : check.message;
  },
  previewOf: (definition) => ({ audience: definition }),
  /**
   * A destination that synced a deleted audience keeps its key (hidden from reads), so that the members' exits,
   * which reach it as the deletion's rebuild re-evaluates each profile, and its reconciliation still empty the
   * vendor's list. An audience made again under that key is another one: the destination syncs it only once told
   * to (`PUT /v1/destinations/{id}`), so the stale key goes as soon as it is created.
   */
  async created(env, workspaceId, key) {
    if ((await unlistAudience(env.DB, workspaceId, key, Date.now())) > 0) forgetDestinations(workspaceId);
  },
});
