import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { orm } from "../client";
import { newId } from "../ids";
import { createWorkspace } from "../provision";
import { erasedProfiles, memberExits } from "../schema";
import {
  type DefinitionKind,
  deleteDefinition,
  findDefinition,
  insertDefinition,
  readDefinitionsVersion,
} from "./definitions";
import {
  applyManyMemberChanges as apply,
  deleteMembershipsOfProfiles,
  listMembers,
  type MemberChange,
} from "./members";

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

/** Saves a definition of `kind` named `key` created at `now` (its body does not matter here); answers `now`. */
async function define(ws: string, kind: DefinitionKind, key: string, now = Date.now()): Promise<number> {
  const readVersion = await readDefinitionsVersion(env.DB, ws);
  const saved = await insertDefinition(env.DB, {
    workspaceId: ws,
    kind,
    key,
    readVersion,
    now,
    buildTotal: 0,
    definition: "{}",
  });
  expect(saved.ok).toBe(true);
  return now;
}

async function undefine(ws: string, kind: DefinitionKind, key: string) {
  const readVersion = await readDefinitionsVersion(env.DB, ws);
  expect((await deleteDefinition(env.DB, { workspaceId: ws, kind, key, readVersion, now: Date.now() })).ok).toBe(true);
}

/** The leaves D1 remembers of one workspace's profile, as [kind, key, seq]. */
const exitsOf = async (ws: string, profileId: string) =>
  (
    await orm(env.DB)
      .select()
      .from(memberExits)
      .where(and(eq(memberExits.workspaceId, ws), eq(memberExits.profileId, profileId)))
  ).map((r) => [r.kind, r.key, r.seq]);

describe("member rows written many profiles at a time", () => {
  it("end as the changes applied one by one, oldest first, would leave them", async () => {
    const { ws, members } = await workspace();
    await define(ws, "audience", "vip");
    await define(ws, "computed_trait", "spend");
    const [a, b, c, d, e] = Array.from({ length: 5 }, () => newId("prf"));
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 1)] }]);
    await apply(env.DB, ws, [
      // a left and came back since its row was written: its `since` is the return's.
      { profileId: a, changes: [leave("vip", 2), enter("vip", 3)] },
      // b entered and left before anything was delivered: no row.
      { profileId: b, changes: [enter("vip", 1), leave("vip", 2)] },
      // c's changes arrive out of order within the batch.
      { profileId: c, changes: [enter("vip", 5), leave("vip", 4), enter("vip", 2)] },
      { profileId: d, changes: [enter("vip", 1), { ...enter("spend", 2), kind: "computed_trait" }] },
      // e entered, then stayed while its traits changed (a restatement: an enter with a newer seq): since its entry.
      { profileId: e, changes: [enter("vip", 6), enter("vip", 8)] },
    ]);
    expect(await members("vip")).toEqual(
      [
        { profileId: a, since: 3000 },
        { profileId: c, since: 5000 },
        { profileId: d, since: 1000 },
        { profileId: e, since: 6000 },
      ].sort((x, y) => (x.profileId < y.profileId ? -1 : 1)),
    );
    expect(await listMembers(env.DB, ws, "computed_trait", "spend", { limit: 10 })).toEqual([
      { profileId: d, since: 2000 },
    ]);
  });

  it("never let an older change undo a newer one, and change nothing when a delivery is repeated", async () => {
    const { ws, members } = await workspace();
    await define(ws, "audience", "vip");
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
    await define(ws, "audience", "vip");
    await define(other.ws, "audience", "vip");
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
    await define(ws, "audience", "vip");
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

  it("never let an entry older than a leave make the profile a member again when it arrives after that leave", async () => {
    const { ws, members } = await workspace();
    await define(ws, "audience", "vip");
    await define(ws, "computed_trait", "spend");
    const spend = (c: MemberChange): MemberChange => ({ ...c, kind: "computed_trait", key: "spend" });
    const [a, b] = [newId("prf"), newId("prf")];
    // Two requests held a's hand-off: the later one, which also carried the leave, was written first.
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 1), leave("vip", 2)] }]);
    // b's row was written and then left by the object's own delivery.
    await apply(env.DB, ws, [{ profileId: b, changes: [enter("vip", 1), spend(enter("vip", 2))] }]);
    await apply(env.DB, ws, [{ profileId: b, changes: [leave("vip", 3), spend(leave("vip", 4))] }]);
    // The requests holding the older entries write them last.
    await apply(env.DB, ws, [
      { profileId: a, changes: [enter("vip", 1)] },
      { profileId: b, changes: [enter("vip", 1), spend(enter("vip", 2))] },
    ]);
    expect(await members("vip")).toEqual([]);
    expect(await listMembers(env.DB, ws, "computed_trait", "spend", { limit: 10 })).toEqual([]);
    // An entry newer than the leave is a member again, from its own time.
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 3)] }]);
    expect(await members("vip")).toEqual([{ profileId: a, since: 3000 }]);
  });

  it("write nothing more of a profile a GDPR erase removed, whatever arrives after it", async () => {
    const { ws, members } = await workspace();
    await define(ws, "audience", "vip");
    const a = newId("prf");
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 1), leave("vip", 2)] }]);
    // The erase: the graph step records the profile, the memberships step deletes its rows.
    await orm(env.DB).insert(erasedProfiles).values({ workspaceId: ws, profileId: a, deletionId: "del_1" });
    const [first, ...rest] = deleteMembershipsOfProfiles(env.DB, ws, [a]);
    await orm(env.DB).batch([first, ...rest]);
    expect(await exitsOf(ws, a)).toEqual([]);
    // The request that held the entry delivers it; its object had delivered the leave before it was wiped.
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 1)] }]);
    expect(await members("vip")).toEqual([]);
    await apply(env.DB, ws, [{ profileId: a, changes: [leave("vip", 2)] }]);
    expect(await exitsOf(ws, a)).toEqual([]);
  });

  it("delete the rows of a whole merge tree at once, past D1's 100 bound parameters", async () => {
    const { ws, members } = await workspace();
    await define(ws, "audience", "vip");
    const tree = Array.from({ length: 150 }, () => newId("prf"));
    const kept = newId("prf");
    await apply(
      env.DB,
      ws,
      [...tree, kept].map((profileId) => ({ profileId, changes: [enter("vip", 1), leave("vip", 2), enter("vip", 3)] })),
    );
    await apply(env.DB, ws, [{ profileId: tree[0], changes: [leave("vip", 4)] }]);
    const [first, ...rest] = deleteMembershipsOfProfiles(env.DB, ws, tree);
    await orm(env.DB).batch([first, ...rest]);
    expect(await members("vip")).toEqual([{ profileId: kept, since: 3000 }]);
    expect(await exitsOf(ws, tree[0])).toEqual([]);
  });

  it("remember leaves only of definitions that exist, and forget them with the definition", async () => {
    const { ws } = await workspace();
    await define(ws, "audience", "vip");
    const a = newId("prf");
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 1), enter("gone", 2)] }]);
    // "gone" was deleted before its members left it: nothing would ever delete what its leaves wrote.
    await apply(env.DB, ws, [{ profileId: a, changes: [leave("vip", 3), leave("gone", 4)] }]);
    expect(await exitsOf(ws, a)).toEqual([["audience", "vip", 3]]);
    const readVersion = await readDefinitionsVersion(env.DB, ws);
    const deleted = await deleteDefinition(env.DB, {
      workspaceId: ws,
      kind: "audience",
      key: "vip",
      readVersion,
      now: 1,
    });
    expect(deleted.ok).toBe(true);
    expect(await exitsOf(ws, a)).toEqual([]);
  });

  it("forget a leave once the profile is back in, whose row then refuses what the leave refused", async () => {
    const { ws, members } = await workspace();
    await define(ws, "audience", "vip");
    const a = newId("prf");
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 1), leave("vip", 2)] }]);
    expect(await exitsOf(ws, a)).toEqual([["audience", "vip", 2]]);
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 3)] }]);
    expect(await exitsOf(ws, a)).toEqual([]);
    // Late copies of what came before the return: neither undoes it, moves its `since`, or is remembered.
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 1)] }]);
    await apply(env.DB, ws, [{ profileId: a, changes: [leave("vip", 2)] }]);
    expect(await members("vip")).toEqual([{ profileId: a, since: 3000 }]);
    expect(await exitsOf(ws, a)).toEqual([]);
    // Out again: remembered again, and the entry before it, arriving late, finds it.
    await apply(env.DB, ws, [{ profileId: a, changes: [leave("vip", 4)] }]);
    await apply(env.DB, ws, [{ profileId: a, changes: [enter("vip", 3)] }]);
    expect(await members("vip")).toEqual([]);
    expect(await exitsOf(ws, a)).toEqual([["audience", "vip", 4]]);
  });

  it("write a late change of a deleted definition to none that took its key since", async () => {
    const { ws, members } = await workspace();
    const size = async () => (await findDefinition(env.DB, { workspaceId: ws, kind: "audience", key: "vip" }))?.size;
    const first = await define(ws, "audience", "vip", Date.now() - 60_000);
    const ofFirst = (c: MemberChange): MemberChange => ({ ...c, definitionCreatedAt: first });
    const [a, b, c] = Array.from({ length: 3 }, () => newId("prf"));
    await apply(env.DB, ws, [{ profileId: a, changes: [ofFirst(enter("vip", 1))] }]);
    expect(await members("vip")).toEqual([{ profileId: a, since: 1000 }]);
    await undefine(ws, "audience", "vip");
    // c's entry, queued before this deploy (it names no definition), lands while the key has none.
    await apply(env.DB, ws, [{ profileId: c, changes: [enter("vip", 1)] }]);
    const second = await define(ws, "audience", "vip");
    // Requests that held the first definition's changes write them now: a's entry again, b's never written before,
    // a's leave of it. None of them was evaluated against the second.
    await apply(env.DB, ws, [
      { profileId: a, changes: [ofFirst(enter("vip", 1))] },
      { profileId: b, changes: [ofFirst(enter("vip", 1))] },
    ]);
    await apply(env.DB, ws, [{ profileId: a, changes: [ofFirst(leave("vip", 2))] }]);
    expect(await members("vip")).toEqual([]);
    expect(await size()).toBe(0);
    expect(await exitsOf(ws, a)).toEqual([]);
    // What the profiles evaluate against the second lands.
    const ofSecond = (ch: MemberChange): MemberChange => ({ ...ch, definitionCreatedAt: second });
    await apply(env.DB, ws, [
      { profileId: a, changes: [ofSecond(enter("vip", 3))] },
      { profileId: b, changes: [ofSecond(enter("vip", 2)), ofSecond(leave("vip", 3))] },
    ]);
    expect(await members("vip")).toEqual([{ profileId: a, since: 3000 }]);
    expect(await exitsOf(ws, b)).toEqual([["audience", "vip", 3]]);
    expect(await size()).toBe(1);
  });
});
