import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../ids";
import { createWorkspace } from "../provision";
import {
  type DefinitionChange,
  deleteDefinition,
  findDefinition,
  insertDefinition,
  readDefinitionsVersion,
  replaceDefinition,
} from "./definitions";
import { applyMemberChanges } from "./members";

async function workspaceWithVip() {
  const { workspace } = await createWorkspace(env.DB, { name: "defs" });
  const ref = { workspaceId: workspace.id, kind: "audience" as const, key: "vip" };
  const change = (readVersion: number): DefinitionChange => ({ ...ref, readVersion, now: Date.now() });
  const first = await insertDefinition(env.DB, { ...change(0), buildTotal: 4, definition: '{"audience":"x"}' });
  expect(first).toMatchObject({ ok: true, buildVersion: 1, saved: { key: "vip", version: 1, size: 0 } });
  return { ref, change };
}

describe("definition writes", () => {
  it("bump the definitions version and start the build at it, in the same batch", async () => {
    const { ref, change } = await workspaceWithVip();
    expect(await readDefinitionsVersion(env.DB, ref.workspaceId)).toBe(1);
    expect(await findDefinition(env.DB, ref)).toMatchObject({
      version: 1,
      buildVersion: 1,
      buildTotal: 4,
      buildProcessed: 0,
      size: 0,
    });
    const replaced = await replaceDefinition(env.DB, { ...change(1), buildTotal: 2, definition: '{"event":"x"}' });
    // The write answers with the row it stored.
    expect(replaced).toMatchObject({ ok: true, buildVersion: 2, saved: { definition: '{"event":"x"}', version: 2 } });
    expect(await findDefinition(env.DB, ref)).toMatchObject({
      definition: '{"event":"x"}',
      version: 2,
      buildVersion: 2,
    });
  });

  it("land nothing when the definitions changed since they were read", async () => {
    const { ref, change } = await workspaceWithVip();
    const stale = { ok: false, reason: "stale" };
    const other = { ...change(0), key: "other", buildTotal: 0, definition: "{}" };
    expect(await insertDefinition(env.DB, other)).toEqual(stale);
    expect(await replaceDefinition(env.DB, { ...change(0), buildTotal: 0, definition: "{}" })).toEqual(stale);
    expect(await deleteDefinition(env.DB, change(0))).toEqual(stale);
    expect(await readDefinitionsVersion(env.DB, ref.workspaceId)).toBe(1);
    expect(await findDefinition(env.DB, { ...ref, key: "other" })).toBeUndefined();
    expect(await findDefinition(env.DB, ref)).toMatchObject({ definition: '{"audience":"x"}', version: 1 });
  });

  it("delete the definition with its member rows", async () => {
    const { ref, change } = await workspaceWithVip();
    await applyMemberChanges(env.DB, ref.workspaceId, newId("prf"), [
      { kind: "audience", key: "vip", member: true, at: 1, seq: 1 },
    ]);
    expect((await findDefinition(env.DB, ref))?.size).toBe(1);
    expect(await deleteDefinition(env.DB, change(1))).toEqual({ ok: true, buildVersion: 2 });
    expect(await findDefinition(env.DB, ref)).toBeUndefined();
    await insertDefinition(env.DB, { ...change(2), buildTotal: 0, definition: "{}" });
    expect((await findDefinition(env.DB, ref))?.size).toBe(0);
  });
});
