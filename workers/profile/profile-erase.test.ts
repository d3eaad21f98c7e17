import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, identify, ingestInput, track } from "../test-support/messages";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";

/** Every row left in the object's user tables, as text: what an erase must not leave behind. */
function leftovers(id: string): Promise<string[]> {
  return runInDurableObject<ProfileDO, string[]>(env.PROFILE.getByName(id), (_i, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'",
      )
      .toArray()
      .map((r) => r.name);
    return tables.flatMap((t) =>
      sql
        .exec(`SELECT * FROM "${t}"`)
        .toArray()
        .map((row) => JSON.stringify(row)),
    );
  });
}

describe("ProfileDO.erase", () => {
  it("deletes everything and leaves a marker without personal data", async () => {
    const id = freshId("prf");
    await profileStub(env.PROFILE, id).ingest(
      ingestInput(
        id,
        [identify({ email: "jane@example.com" }, "2026-01-01T00:00:00.000Z")],
        [{ type: "email", value: "jane@example.com", firstSeen: 1 }],
      ),
    );
    await profileStub(env.PROFILE, id).erase();

    expect(await profileStub(env.PROFILE, id).getProfile()).toEqual({ status: "deleted" });
    expect(await profileStub(env.PROFILE, id).listEvents({ limit: 10 })).toEqual({ status: "deleted" });
    const rows = (await leftovers(id)).join("\n");
    expect(rows).not.toContain("jane");
    expect(rows).not.toContain(id);
  });

  it("answers deleted to a later ingest and stores nothing", async () => {
    const id = freshId("prf");
    await profileStub(env.PROFILE, id).ingest(ingestInput(id, [track("A", "2026-01-01T00:00:00.000Z")]));
    await profileStub(env.PROFILE, id).erase();
    expect(
      await profileStub(env.PROFILE, id).ingest(ingestInput(id, [track("B", "2026-01-02T00:00:00.000Z")])),
    ).toEqual({
      status: "deleted",
    });
    expect((await leftovers(id)).join("\n")).not.toContain('"B"');
  });

  it("drops a late fold into an erased survivor", async () => {
    const [loser, survivor] = [freshId("prf"), freshId("prf")];
    await profileStub(env.PROFILE, loser).ingest(
      ingestInput(loser, [identify({ name: "Kim" }, "2026-01-01T00:00:00.000Z")]),
    );
    await profileStub(env.PROFILE, survivor).erase();
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    expect(await profileStub(env.PROFILE, survivor).getProfile()).toEqual({ status: "deleted" });
    expect((await leftovers(survivor)).join("\n")).not.toContain("Kim");
  });

  it("erases a tombstone, which then answers deleted instead of redirecting", async () => {
    const [loser, survivor] = [freshId("prf"), freshId("prf")];
    await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [track("A", "2026-01-01T00:00:00.000Z")]));
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    await profileStub(env.PROFILE, loser).erase();
    expect(await profileStub(env.PROFILE, loser).getProfile()).toEqual({ status: "deleted" });
    expect((await leftovers(loser)).join("\n")).not.toContain(survivor);
    // Erasing twice is fine.
    await profileStub(env.PROFILE, loser).erase();
    expect(await profileStub(env.PROFILE, loser).getProfile()).toEqual({ status: "deleted" });
  });
});
