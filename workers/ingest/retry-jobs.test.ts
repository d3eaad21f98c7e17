import { describe, expect, it } from "vitest";
import { jsonBytes } from "../shared/utf8";
import { earlierAttemptsOf, type IngestJob, jobsOf, MAX_JOB_BYTES, packJobs } from "./retry-jobs";

const deliverJob = (workspaceId: string, n: number, text = "x"): IngestJob => ({
  kind: "deliver",
  workspaceId,
  profileId: `prf_${n}`,
  messages: [{ type: "track", event: "Bought", messageId: `m-${n}`, properties: { text } } as never],
  identifiers: [{ type: "anonymous_id", value: `a-${n}`, firstSeen: 0 }],
});

describe("ingest retry jobs", () => {
  it("packs jobs by workspace, in order, each pack within the message budget", () => {
    const jobs = [
      ...Array.from({ length: 300 }, (_, n) => deliverJob("ws_a", n, "y".repeat(900))),
      deliverJob("ws_b", 300),
      deliverJob("ws_a", 301),
    ];
    const packs = packJobs(jobs);
    expect(packs.map((p) => p.workspaceId)).toEqual(["ws_a", "ws_a", "ws_a", "ws_a", "ws_b"]);
    for (const pack of packs) expect(jsonBytes(pack)).toBeLessThanOrEqual(MAX_JOB_BYTES);
    const a = packs.filter((p) => p.workspaceId === "ws_a").flatMap((p) => p.jobs);
    expect(a).toEqual(jobs.filter((job) => job.workspaceId === "ws_a"));
    expect(packs.at(-1)?.jobs).toEqual([jobs[300]]);
  });

  it("splits a job larger than a message across packs, and carries earlier attempts", () => {
    const big = {
      ...deliverJob("ws_a", 1),
      messages: Array.from({ length: 5 }, (_, i) => ({ messageId: `m-${i}`, text: "z".repeat(30_000) }) as never),
    };
    const packs = packJobs([big], 4);
    expect(packs.length).toBeGreaterThan(1);
    expect(packs.every((p) => p.earlierAttempts === 4 && p.jobs.length === 1)).toBe(true);
    expect(packs.flatMap((p) => (p.jobs[0].kind === "merge" ? [] : p.jobs[0].messages))).toEqual(big.messages);
  });

  it("reads a pack, a job queued before packs, and nothing else", () => {
    const job = deliverJob("ws_a", 1);
    expect(jobsOf({ workspaceId: "ws_a", jobs: [job] })).toEqual([job]);
    expect(jobsOf(job)).toEqual([job]);
    expect(jobsOf({ workspaceId: "ws_b", jobs: [job] })).toBeNull();
    expect(jobsOf({ workspaceId: "ws_a", jobs: [] })).toBeNull();
    expect(jobsOf({ workspaceId: "ws_a", jobs: [{ kind: "other" }] })).toBeNull();
    expect(jobsOf("text")).toBeNull();
    expect([{ jobs: [], earlierAttempts: 3 }, job, { earlierAttempts: -1 }, null].map(earlierAttemptsOf)).toEqual([
      3, 0, 0, 0,
    ]);
  });
});
