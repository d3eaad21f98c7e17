/**
 * `/v1/computed-traits` (DESIGN §6): per-profile values computed from events, kept current in real time. The routes
 * are the definitions resource of `definition-routes.ts`; a computed trait refers to no other definition, so its
 * grammar (checked by the request schemas) is all there is to check.
 */
import {
  ComputedTrait,
  ComputedTraitCreate,
  type ComputedTraitDefinition,
  ComputedTraitList,
  ComputedTraitPreviewRequest,
  ComputedTraitUpdate,
} from "@tessera/protocol";
import { definitionRoutes } from "./definition-routes";

export const computedTraitRoutes = definitionRoutes<ComputedTraitDefinition>({
  kind: "computed_trait",
  path: "/v1/computed-traits",
  noun: "computed trait",
  exampleKey: "lifetime_value",
  schemas: {
    view: ComputedTrait,
    list: ComputedTraitList,
    create: ComputedTraitCreate,
    update: ComputedTraitUpdate,
    preview: ComputedTraitPreviewRequest,
  },
  referenceProblem: () => undefined,
  previewOf: (definition) => ({ computedTrait: definition }),
});
