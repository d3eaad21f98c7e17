/** How the admin API shows an audience or a computed trait (DESIGN §6): the stored row, its size and build status. */
import type { DefinitionStatus } from "@tessera/protocol";
import type { DefinitionWithSize } from "../../d1/queries/definitions";

/** How the API shows a definition whose `definition` is a `D` (the `Audience` and `ComputedTrait` schemas). */
export interface DefinitionView<D> {
  key: string;
  name: string | null;
  description: string | null;
  definition: D;
  version: number;
  created_at: string;
  updated_at: string;
  size: number;
  status: DefinitionStatus;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The view of a stored definition; its build is `ready` once the backfill has processed every profile it covers. */
export function viewOf<D>(row: DefinitionWithSize): DefinitionView<D> {
  return {
    key: row.key,
    name: row.name,
    description: row.description,
    definition: JSON.parse(row.definition) as D,
    version: row.version,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    size: row.size,
    status: {
      state: row.buildProcessed >= row.buildTotal ? "ready" : "building",
      processed: row.buildProcessed,
      total: row.buildTotal,
    },
  };
}
