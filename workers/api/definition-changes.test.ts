import { env } from "cloudflare:workers";
import { type AudienceDefinition, MAX_WORKSPACE_DEFINITION_BYTES } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { defineAll } from "../test-support/definitions";
import { seedWorkspace } from "../test-support/seed";
import { checkRoom, readSaved } from "./definition-changes";

/** An audience of about `bytes` bytes of JSON. */
const sized = (bytes: number): AudienceDefinition => ({ trait: "plan", op: "eq", value: "x".repeat(bytes - 40) });

describe("the room a workspace's definitions take in every profile", () => {
  it("counts a changed definition once, and refuses a change past the cap with what it would take", async () => {
    const { workspaceId } = await seedWorkspace();
    const half = MAX_WORKSPACE_DEFINITION_BYTES / 2 - 1_000;
    await defineAll(workspaceId, { audiences: { a: sized(half), b: sized(half) } });
    const saved = await readSaved(env.DB, workspaceId);
    const b = { workspaceId, kind: "audience" as const, key: "b" };
    expect(() => checkRoom(saved, b, JSON.stringify(sized(half + 1_500)))).not.toThrow();
    expect(() => checkRoom(saved, b, JSON.stringify(sized(half + 2_500)))).toThrow(
      /would take 1000\d{3} bytes, over the 1000000 every profile keeps of them: delete or shorten some first/,
    );
    // A computed trait named like an audience is another definition.
    const c = { workspaceId, kind: "computed_trait" as const, key: "b" };
    expect(() => checkRoom(saved, c, JSON.stringify(sized(100)))).not.toThrow();
    expect(() => checkRoom(saved, c, JSON.stringify(sized(2_500)))).toThrow(/would take/);
  });
});
