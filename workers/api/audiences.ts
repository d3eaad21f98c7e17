/**
 * `/v1/audiences` (DESIGN §6): segments of profiles kept current in real time. The routes are the definitions
 * resource of `definition-routes.ts`; what is particular to audiences is that they may refer to other audiences and
 * to computed traits, which must exist and must not form a cycle.
 */
import {
  Audience,
  AudienceCreate,
  type AudienceDefinition,
  AudienceList,
  AudiencePreviewRequest,
  AudienceUpdate,
} from "@tessera/protocol";
import { validateAudienceDefinition } from "../audiences/validate-definition";
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
});
