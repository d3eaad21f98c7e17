import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { plans, recordingDb, walks } from "../../workers/test-support/query-plans";
import { createWorkspace } from "../provision";
import { findLiveKey } from "./api-keys";
import { findIdentifierOwner } from "./identity-graph";
import {
  eraseMergedTree,
  findChainEnd,
  graphWriteStatements,
  listDroppedLinksOfTree,
  listMergesIntoTree,
  liveMergesOfMessages,
  readGraphRows,
  readMergedTree,
} from "./identity-graph-sql";
import { memberChangeStatements } from "./members";
import { markMergeFolded, postponeFolds, unfoldedMerges } from "./merge-folds";
import { listSourcesWithWriteKeys } from "./sources";
import { findIdentityRules } from "./workspaces";

const key = { type: "email", value: "max@acme.test" };

describe("hot D1 queries", () => {
  it("look api keys and identity rules up by primary key", async () => {
    const ws = await createWorkspace(env.DB, { name: "plans" });
    const { db, prepared } = recordingDb();
    await findLiveKey(db, "0".repeat(64));
    await findIdentityRules(db, ws.workspace.id);
    expect(await plans(prepared)).toEqual([
      "SEARCH api_keys USING INDEX sqlite_autoindex_api_keys_1 (key_hash=?)",
      "SEARCH workspaces USING INDEX sqlite_autoindex_workspaces_1 (id=?)",
    ]);
  });

  it("resolve identifiers and follow merges by index, never walking the workspace", async () => {
    const { db, prepared } = recordingDb();
    await findIdentifierOwner(db, "ws_plans", key);
    await readGraphRows(db, "ws_plans", [{ ...key, hash: "0".repeat(64) }]);
    await findChainEnd(db, "ws_plans", "prf_a", 64);
    await listMergesIntoTree(db, "ws_plans", "prf_a");
    await listDroppedLinksOfTree(db, "ws_plans", "prf_a");
    await liveMergesOfMessages(db, "ws_plans", [{ messageId: "msg_1", survivor: "prf_a" }]);
    const ticket = "tkt_a";
    graphWriteStatements(
      db,
      "ws_plans",
      {
        components: [
          {
            ticket,
            absentKeys: [key],
            unsuppressedHashes: ["0".repeat(64)],
            readVersions: [{ id: "prf_a", version: 1 }],
          },
        ],
        newProfiles: [{ ticket, id: "prf_b", createdAt: 1 }],
        claims: [{ ticket, ...key, profileId: "prf_b", firstSeen: 1 }],
        repoints: [{ ticket, from: "prf_c", to: "prf_b" }],
        merges: [
          { ticket, id: "mrg_1", fromProfile: "prf_c", intoProfile: "prf_b", messageId: null, rule: "r", detail: null },
        ],
        profileStates: [{ ticket, id: "prf_b", mergedInto: null, identifierCount: 1, mergeCount: 1 }],
        droppedLinks: [
          {
            ticket,
            profileId: "prf_b",
            type: "user_id",
            value: "u",
            ownerProfile: "prf_a",
            messageId: null,
            rule: "r",
          },
        ],
      },
      1,
    );
    expect(prepared).toHaveLength(16);
    expect(walks(await plans(prepared))).toEqual([]);
  });

  it("erase a profile's tree by index, but for its dropped links and the undone merges (both rare, few rows)", async () => {
    const { db, prepared } = recordingDb();
    await readMergedTree(db, "ws_plans", "prf_a");
    await eraseMergedTree(db, "ws_plans", [], [{ ...key, hash: "0".repeat(64) }], 1);
    expect(walks(await plans(prepared))).toEqual([
      "SEARCH dropped_links USING INDEX dropped_links_unique (workspace_id=?)",
      "SEARCH merges USING INDEX merges_undone_by_message (workspace_id=?)",
    ]);
  });

  it("record a fold or a failed ask by the merged-away profile's live merge, and read owed folds through their partial indexes", async () => {
    const { db, prepared } = recordingDb();
    await markMergeFolded(db, "prf_a", 1);
    await unfoldedMerges(db, 1, 1, 100);
    await postponeFolds(db, [{ fromProfile: "prf_a", createdAt: 1 }], 2);
    const steps = await plans(prepared);
    expect(walks(steps)).toEqual([]);
    expect(steps).toEqual([
      "SEARCH merges USING INDEX merges_from_unique (from_profile=?)",
      "SEARCH merges USING INDEX merges_unfolded (created_at<?)",
      "SEARCH profiles USING INDEX sqlite_autoindex_profiles_1 (id=?) LEFT-JOIN",
      "SEARCH merges USING INDEX merges_fold_retry (fold_retry_at<?)",
      "SEARCH profiles USING INDEX sqlite_autoindex_profiles_1 (id=?) LEFT-JOIN",
      "SEARCH merges USING INDEX merges_from_unique (from_profile=?)",
    ]);
  });

  it("write many profiles' member rows by primary key", async () => {
    const { db, prepared } = recordingDb();
    const change = { key: "vip", at: 1, seq: 2 };
    memberChangeStatements(
      db,
      "ws_plans",
      [
        { profileId: "prf_a", changes: [{ ...change, kind: "audience", member: false }] },
        { profileId: "prf_b", changes: [{ ...change, kind: "audience", member: true }] },
        { profileId: "prf_b", changes: [{ ...change, kind: "computed_trait", member: false }] },
        { profileId: "prf_a", changes: [{ ...change, kind: "computed_trait", member: true }] },
      ],
      1,
    );
    expect(prepared).toHaveLength(8);
    const steps = await plans(prepared);
    expect(walks(steps)).toEqual([]);
    // Each leave finds its row by the member table's key; the insert's conflicts are checked by the same key. A leave
    // is recorded, and an entry checked against it, against the erased profiles and against the definition it names
    // (its creation time read from the row the key finds), by their primary keys; so is the exit an entry ends.
    expect(steps).toEqual(
      expect.arrayContaining([
        "SEARCH m USING INDEX sqlite_autoindex_audience_members_1 (workspace_id=? AND audience=? AND profile_id=?)",
        "SEARCH m USING INDEX sqlite_autoindex_computed_trait_members_1 (workspace_id=? AND trait=? AND profile_id=?)",
        "SEARCH d USING INDEX sqlite_autoindex_definitions_1 (workspace_id=? AND kind=? AND key=?)",
        "SEARCH x USING INDEX sqlite_autoindex_member_exits_1 (workspace_id=? AND kind=? AND key=? AND profile_id=?)",
        "SEARCH e USING COVERING INDEX sqlite_autoindex_erased_profiles_1 (workspace_id=? AND profile_id=?)",
      ]),
    );
  });

  it("list a workspace's sources and write keys through the workspace's index, not the whole table", async () => {
    const { db, prepared } = recordingDb();
    await listSourcesWithWriteKeys(db, "ws_plans");
    // The sorts are over one workspace's few sources and keys, not the table.
    expect(await plans(prepared)).toEqual([
      "SEARCH sources USING INDEX sources_by_workspace (workspace_id=?)",
      "USE TEMP B-TREE FOR LAST TERM OF ORDER BY",
      "SEARCH api_keys USING INDEX api_keys_workspace_idx (workspace_id=?)",
      "USE TEMP B-TREE FOR ORDER BY",
    ]);
  });
});
