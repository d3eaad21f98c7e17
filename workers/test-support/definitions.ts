/**
 * Fixture: a workspace's audiences and computed traits written straight into D1 (as the admin API stores them),
 * for tests of evaluation in the ProfileDO that should not depend on the API routes.
 */
import { env } from "cloudflare:workers";
import type { AudienceDefinition, ComputedTraitDefinition } from "@tessera/protocol";
import { sql } from "drizzle-orm";
import { orm } from "../../d1/client";
import { definitions, workspaces } from "../../d1/schema";
import { forgetDefinitions } from "../audiences/definitions-cache";

/** DESIGN §6's seed workflow: bought in store in the last 30 days, opened no email in 60. */
export const LAPSED_STORE_BUYERS: AudienceDefinition = {
  all: [
    { event: "Order Completed", where: [{ property: "channel", op: "eq", value: "pos" }], within: "30d" },
    { not: { event: "Email Opened", within: "60d" } },
  ],
};

/** Replaces the workspace's definitions with these and bumps its version; returns the new version. */
export async function defineAll(
  workspaceId: string,
  set: { audiences?: Record<string, AudienceDefinition>; computed?: Record<string, ComputedTraitDefinition> },
): Promise<number> {
  const d = orm(env.DB);
  const now = Date.now();
  const rows = [
    ...Object.entries(set.audiences ?? {}).map(([key, def]) => ({ kind: "audience" as const, key, def })),
    ...Object.entries(set.computed ?? {}).map(([key, def]) => ({ kind: "computed_trait" as const, key, def })),
  ].map((r) => ({
    workspaceId,
    kind: r.kind,
    key: r.key,
    definition: JSON.stringify(r.def),
    version: 1,
    createdAt: now,
    updatedAt: now,
    buildVersion: 0,
  }));
  const [, [bumped]] = await d.batch([
    d.delete(definitions).where(sql`${definitions.workspaceId} = ${workspaceId}`),
    d
      .update(workspaces)
      .set({ definitionsVersion: sql`${workspaces.definitionsVersion} + 1` })
      .where(sql`${workspaces.id} = ${workspaceId}`)
      .returning({ version: workspaces.definitionsVersion }),
    ...rows.map((row) => d.insert(definitions).values(row)),
  ]);
  forgetDefinitions(workspaceId);
  return bumped.version;
}
