import type { Deletion } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { deletionSummary, isDeletionId, personName } from "./deletion-summary";

const job = (over: Partial<Deletion>): Deletion => ({
  id: "del_abc",
  status: "pending",
  profile_id: "prf_1",
  profile_ids: [],
  suppressed_identifiers: 0,
  steps: [
    { name: "graph", status: "done", done_at: "2026-12-01T10:00:00.000Z" },
    { name: "profiles", status: "done", done_at: "2026-12-01T10:00:00.000Z" },
    { name: "destinations", status: "pending", done_at: null },
  ],
  attempts: 0,
  last_error: null,
  next_attempt_at: null,
  created_at: "2026-12-01T10:00:00.000Z",
  completed_at: null,
  ...over,
});

describe("deletionSummary", () => {
  it("says a pending erase is requested, not done, with the steps it waits for", () => {
    const text = deletionSummary(job({}));
    expect(text).toBe("Deletion of prf_1 requested: pending (done: graph, profiles; waiting: destinations).");
    expect(text).not.toMatch(/was deleted/);
  });

  it("says deleted once the job is done", () => {
    expect(deletionSummary(job({ status: "done" }))).toBe("Profile prf_1 was deleted: every step is done.");
  });
});

describe("isDeletionId", () => {
  it("reads only a deletion id from the URL", () => {
    expect(isDeletionId("del_8x2kq4v0c5z2e7k9r3t1")).toBe(true);
    for (const text of ["prf_1", "Your account was deleted, call +1 555", "del_", "del_a b", undefined]) {
      expect(isDeletionId(text)).toBe(false);
    }
  });
});

describe("personName", () => {
  it("names the person by email, else user id", () => {
    const ids = (...pairs: [string, string][]) =>
      pairs.map(([type, value]) => ({ type, value, first_seen: "2026-12-01T10:00:00.000Z" })) as never;
    expect(personName({ id: "prf_1", identifiers: ids(["user_id", "42"], ["email", "jane@example.com"]) })).toBe(
      "jane@example.com",
    );
    expect(personName({ id: "prf_1", identifiers: ids(["anonymous_id", "a1"], ["user_id", "42"]) })).toBe("user id 42");
    expect(personName({ id: "prf_1", identifiers: [] })).toBe("prf_1");
  });
});
