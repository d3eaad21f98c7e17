/** Fixture: a destination row written straight into D1 (as the admin API stores it), for engine tests. */
import { env } from "cloudflare:workers";
import { orm } from "../../d1/client";
import { newId } from "../../d1/ids";
import { destinations } from "../../d1/schema";

export async function insertDestination(
  workspaceId: string,
  d: { type: string; config: Record<string, unknown>; audiences: string[]; traits?: string[]; enabled?: boolean },
): Promise<string> {
  const id = newId("dst");
  const now = Date.now();
  await orm(env.DB)
    .insert(destinations)
    .values({
      id,
      workspaceId,
      type: d.type,
      name: `${d.type} test`,
      config: JSON.stringify(d.config),
      audiences: JSON.stringify(d.audiences),
      traits: JSON.stringify(d.traits ?? []),
      enabled: d.enabled ?? true,
      inboundSecret: newId("whsec"),
      createdAt: now,
      updatedAt: now,
    });
  return id;
}
