import { describe, expect, it } from "vitest";
import { plans, recordingDb, walks } from "../../workers/test-support/query-plans";
import {
  countPendingDeadLetters,
  ingestDeadLettersAfter,
  listIngestDeadLetters,
  pendingDeadLetters,
} from "./dead-letters";
import { deletionOfProfile, wakeDeletionsWaitingOn } from "./deletions";
import { listMergeDetailsOfTree } from "./identity-graph-sql";
import { commitMergeSplit, listMergeJournal } from "./merge-undo";
import { deleteSyncDeadLettersOfProfiles, deleteSyncLogOfProfiles } from "./sync-records";

describe("operations D1 queries", () => {
  it("list and pick dead letters by index, per workspace and across workspaces", async () => {
    const { db, prepared } = recordingDb();
    for (const scope of [{ workspaceId: "ws_plans" }, {}]) {
      await listIngestDeadLetters(db, scope, { status: "pending", beforeId: 10, limit: 50 });
      await pendingDeadLetters(db, scope, { limit: 100 });
      await pendingDeadLetters(db, scope, { ids: [1, 2], limit: 100 });
      await countPendingDeadLetters(db, scope);
    }
    const steps = await plans(prepared);
    expect(walks(steps)).toEqual([]);
    expect(steps.filter((s) => s.includes("ingest_dead_letters")).every((s) => /USING (COVERING )?INDEX/.test(s))).toBe(
      true,
    );
    // A replay's pick (tried least first) walks an index in that order, not a sort of every pending row (only the
    // 100 picked are sorted back into id order).
    expect(steps).toContain(
      "SEARCH ingest_dead_letters USING COVERING INDEX ingest_dead_letters_replay_order_idx (workspace_id=? AND replayed_at=?)",
    );
    expect(steps).toContain(
      "SEARCH ingest_dead_letters USING COVERING INDEX ingest_dead_letters_replay_order_all_idx (replayed_at=?)",
    );
  });

  it("find an erased profile's deletion by index (a read of its id says which erased it)", async () => {
    const { db, prepared } = recordingDb();
    await deletionOfProfile(db, "ws_plans", "prf_a");
    const steps = await plans(prepared);
    expect(walks(steps)).toEqual([]);
    expect(steps).toContain(
      "SEARCH erased_profiles USING INDEX sqlite_autoindex_erased_profiles_1 (workspace_id=? AND profile_id=?)",
    );
  });

  it("split a merge and read the journal and its tree's merges by index, never walking the workspace", async () => {
    const { db, prepared } = recordingDb();
    await commitMergeSplit(
      db,
      "ws_plans",
      {
        mergeId: "mrg_plans",
        restored: "prf_a",
        survivor: "prf_b",
        identifiers: [{ type: "email", value: "max@acme.test" }],
        tree: ["prf_a"],
        mergeCount: 1,
      },
      1,
    ).catch(() => {
      // No such merge: the guard rolls the batch back. The statements were prepared, which is what is checked.
    });
    await listMergeJournal(db, "ws_plans", "prf_b");
    await listMergeDetailsOfTree(db, "ws_plans", "prf_a");
    expect(prepared).toHaveLength(9);
    const steps = await plans(prepared);
    expect(walks(steps)).toEqual([]);
    // What the tree first owned is found among the survivor's rows, not among the workspace's.
    expect(steps).toContain("SEARCH identifiers USING INDEX identifiers_profile_idx (profile_id=?)");
  });

  it("page a workspace's dead letters for an erase in id order by index", async () => {
    const { db, prepared } = recordingDb();
    await ingestDeadLettersAfter(db, "ws_plans", 10, { rows: 200, bytes: 512 * 1024 });
    const steps = await plans(prepared);
    expect(walks(steps)).toEqual([]);
    expect(steps).toContain(
      "SEARCH ingest_dead_letters USING INDEX ingest_dead_letters_workspace_id_idx (workspace_id=? AND id>?)",
    );
  });

  it("delete an erased person's sync dead letters by their profile index", async () => {
    const { db, prepared } = recordingDb();
    await deleteSyncDeadLettersOfProfiles(db, ["prf_a", "prf_b"]);
    const steps = await plans(prepared);
    expect(walks(steps)).toEqual([]);
    expect(steps.some((s) => s.includes("sync_dead_letters_profile_idx"))).toBe(true);
  });

  it("bring forward the erasures waiting for a destination by the pending erasures' index", async () => {
    const { db, prepared } = recordingDb();
    await wakeDeletionsWaitingOn(db, "dst_a", Date.now());
    const steps = await plans(prepared);
    expect(walks(steps)).toEqual([]);
    expect(steps).toContain("SEARCH deletions USING INDEX deletions_due_idx (status=? AND next_attempt_at>?)");
    expect(steps.some((s) => s.includes("SEARCH deletion_destinations USING INDEX sqlite_autoindex"))).toBe(true);
  });

  it("delete an erased person's sync log by each destination's profile index", async () => {
    const { db, prepared } = recordingDb();
    await deleteSyncLogOfProfiles(db, "ws_plans", ["prf_a", "prf_b"]);
    const steps = await plans(prepared);
    // The workspace's destinations are few; each one's log is searched by profile.
    expect(walks(steps)).toEqual(["SEARCH destinations USING INDEX destinations_workspace_idx (workspace_id=?)"]);
    expect(steps.some((s) => s.includes("sync_log_profile_idx (destination_id=? AND profile_id=?)"))).toBe(true);
  });
});
