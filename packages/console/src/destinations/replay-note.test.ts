import { describe, expect, it } from "vitest";
import { replayNote } from "./replay-note";

describe("replayNote", () => {
  it("says the letters were queued again, not sent, and that older ones are not sent", () => {
    const said = replayNote({ replayed: 20 });
    expect(said).toMatch(/^20 dead letters queued again/);
    expect(said).not.toMatch(/replayed|delivered/i);
    expect(said).toContain("is not sent");
  });

  it("counts one letter in the singular", () => {
    expect(replayNote({ replayed: 1 })).toMatch(/^1 dead letter queued again/);
  });

  it("says nothing was queued when there was nothing to replay", () => {
    expect(replayNote({ replayed: 0 })).toBe("Nothing was queued again: there were no dead letters left to replay.");
  });
});
