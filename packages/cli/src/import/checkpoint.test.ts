import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type Checkpoint, CheckpointWriter, checkpointPath, OrderedAcks, readCheckpoint } from "./checkpoint";

const checkpoint = (rows: number): Checkpoint => ({
  version: 1,
  file: "sales.csv",
  fingerprint: "f",
  rows,
  accepted: rows,
  rejected: 0,
  complete: false,
  updatedAt: "2024-03-01T00:00:00.000Z",
});

describe("OrderedAcks", () => {
  it("moves only over a gap-free prefix of finished batches", () => {
    const acks = new OrderedAcks({ rows: 100, accepted: 90, rejected: 10 });
    expect(acks.complete({ seq: 1, lastRow: 300, accepted: 100, rejected: 0 })).toBeNull();
    expect(acks.complete({ seq: 2, lastRow: 400, accepted: 99, rejected: 1 })).toBeNull();
    expect(acks.complete({ seq: 0, lastRow: 200, accepted: 100, rejected: 0 })).toEqual({
      rows: 400,
      accepted: 389,
      rejected: 11,
    });
    expect(acks.complete({ seq: 4, lastRow: 600, accepted: 1, rejected: 0 })).toBeNull();
    expect(acks.complete({ seq: 3, lastRow: 500, accepted: 1, rejected: 0 })).toEqual({
      rows: 600,
      accepted: 391,
      rejected: 11,
    });
  });
});

describe("checkpoint file", () => {
  it("is written beside the input, atomically, and read back", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-checkpoint-"));
    const file = checkpointPath(path.join(dir, "sales.csv"));
    expect(file).toBe(path.join(dir, "sales.csv.checkpoint.json"));
    expect(await readCheckpoint(file)).toBeNull();
    const writer = new CheckpointWriter(file);
    for (let rows = 1; rows <= 20; rows++) writer.save(checkpoint(rows));
    await writer.flush();
    expect(await readCheckpoint(file)).toEqual(checkpoint(20));
    expect(readdirSync(dir)).toEqual(["sales.csv.checkpoint.json"]);
    expect(readFileSync(file, "utf8")).toMatch(/"rows": 20/);
  });

  it("reports a file that is not a checkpoint instead of guessing", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-checkpoint-"));
    const file = path.join(dir, "x.checkpoint.json");
    writeFileSync(file, '{"rows":"many"}');
    expect(await readCheckpoint(file)).toEqual({
      error: `${file} is not a checkpoint this version of tessera wrote; delete it to start over`,
    });
  });

  it("surfaces a failed write at flush", async () => {
    const writer = new CheckpointWriter(path.join(tmpdir(), "no-such-dir-tessera", "x.checkpoint.json"));
    writer.save(checkpoint(1));
    await expect(writer.flush()).rejects.toThrow(/cannot write the checkpoint/);
  });
});
