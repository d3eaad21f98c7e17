import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../ids";
import { createWorkspace } from "../provision";
import { applyManyMemberChanges as apply, listMembers, type MemberChange } from "./members";

const enter = (key: string, seq: number, at = seq * 1000): MemberChange => ({
  kind: "audience",
  key,
  member: true,
  at,
  seq,
});
const leave = (key: string, seq: number): MemberChange => ({ kind: "audience", key, member: false, at: seq, seq });

async function workspace() {
  const { workspace } = await createWorkspace(env.DB, { name: "members" });
  const members = (key: string) => listMembers(env.DB, workspace.id, "audience", key, { limit: 100 });
  return { ws: workspace.id, members };
}

describe("member rows written many profiles at a time", () => {
  it("end as the changes applied one by one, oldest first, would leave them", async () => {
    const { ws, members } = await workspace();
    const [a, b, c, d] = Array.from({ length: 4 }, () => newId("prf"));
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 1)] }]);
    await apply(env.DB, ws, [
      // a left and came back since its row was written: its `since` is the return's.
      { profileId: a, changes: [leave("vip", 2), enter("vip", 3)] },
      // b entered and left before anything was delivered: no row.
      { profileId: b, changes: [enter("vip", 1), leave("vip", 2)] },
      // c's changes arrive out of order within the batch.
      { profileId: c, changes: [enter("vip", 5), leave("vip", 4), enter("vip", 2)] },
      { profileId: d, changes: [enter("vip", 1), { ...enter("spend", 2), kind: "computed_trait" }] },
    ]);
    expect(await members("vip")).toEqual(
      [
        { profileId: a, since: 3000 },
        { profileId: c, since: 5000 },
        { profileId: d, since: 1000 },
      ].sort((x, y) => (x.profileId < y.profileId ? -1 : 1)),
    );
    expect(await listMembers(env.DB, ws, "computed_trait", "spend", { limit: 10 })).toEqual([
      { profileId: d, since: 2000 },
    ]);
  });

  it("never let an older change undo a newer one, and change nothing when a delivery is repeated", async () => {
    const { ws, members } = await workspace();
    const [a, b] = [newId("prf"), newId("prf")];
    const newer = [
      { profileId: a, changes: [enter("vip", 7)] },
      { profileId: b, changes: [enter("vip", 7)] },
    ];
    await apply(env.DB, ws, newer);
    await apply(env.DB, ws, newer);
    // A late delivery of older changes: a's earlier entry (a different since), b's earlier leave.
    await apply(env.DB, ws, [
      { profileId: a, changes: [enter("vip", 5)] },
      { profileId: b, changes: [leave("vip", 6)] },
    ]);
    expect(await members("vip")).toEqual(
      [
        { profileId: a, since: 7000 },
        { profileId: b, since: 7000 },
      ].sort((x, y) => (x.profileId < y.profileId ? -1 : 1)),
    );
  });

  it("stay in one profile's rows and one workspace's", async () => {
    const { ws, members } = await workspace();
    const other = await workspace();
    const [a, b] = [newId("prf"), newId("prf")];
    await apply(env.DB, ws, [
      { profileId: a, changes: [enter("vip", 1)] },
      { profileId: b, changes: [enter("vip", 1)] },
    ]);
    await apply(env.DB, other.ws, [{ profileId: a, changes: [enter("vip", 1)] }]);
    await apply(env.DB, ws, [{ profileId: a, changes: [leave("vip", 2)] }]);
    expect(await members("vip")).toEqual([{ profileId: b, since: 1000 }]);
    expect(await other.members("vip")).toEqual([{ profileId: a, since: 1000 }]);
  });

  it("take more rows than one statement carries", async () => {
    const { ws } = await workspace();
    const ids = Array.from({ length: 1_200 }, () => newId("prf"));
    await apply(
      env.DB,
      ws,
      ids.map((profileId) => ({ profileId, changes: [enter("vip", 1)] })),
    );
    await apply(
      env.DB,
      ws,
      ids.slice(0, 700).map((profileId) => ({ profileId, changes: [leave("vip", 2)] })),
    );
    const left = await listMembers(env.DB, ws, "audience", "vip", { limit: 1_000 });
    expect(left.map((m) => m.profileId).sort()).toEqual(ids.slice(700).sort());
  });
});
