import type { LiveEvent } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { keepStillHeld, mergeArrived, missingBodyNote } from "./live-feed";

const live = (seq: number, over: Partial<LiveEvent> = {}): LiveEvent => ({
  seq,
  at: "2026-12-01T10:00:00.000Z",
  status: "accepted",
  error: null,
  type: "track",
  event: `Event ${seq}`,
  message_id: `m${seq}`,
  user_id: null,
  anonymous_id: "anon",
  message: null,
  ...over,
});

describe("mergeArrived", () => {
  it("puts new messages on top, newest first", () => {
    const shown = [live(2), live(1)];
    expect(mergeArrived(shown, [live(3), live(4)], 200).map((e) => e.seq)).toEqual([4, 3, 2, 1]);
  });

  it("never shows a message twice when a page is read again (a resume after a pause)", () => {
    const shown = [live(3), live(2), live(1)];
    expect(mergeArrived(shown, [live(1), live(2), live(3), live(4)], 200).map((e) => e.seq)).toEqual([4, 3, 2, 1]);
  });

  it("keeps only the newest ones", () => {
    expect(mergeArrived([live(1)], [live(2), live(3)], 2).map((e) => e.seq)).toEqual([3, 2]);
  });
});

describe("keepStillHeld", () => {
  it("drops what the feed withdrew, keeps what it holds and what came after its read, and nothing cleared", () => {
    // Shown: 5 (newer than the read), 4 and 2 (held), 3 (withdrawn: it named an erased person); 1 was cleared.
    const shown = [live(5), live(4), live(3), live(2)];
    expect(keepStillHeld(shown, [live(1), live(2), live(4)], 4).map((e) => e.seq)).toEqual([5, 4, 2]);
  });
});

describe("missingBodyNote", () => {
  it("says a dropped message was dropped, with the API's reason, not that it was too large", () => {
    const dropped = live(1, { status: "dropped", error: "names a person who was erased (GDPR delete): not stored" });
    expect(missingBodyNote(dropped)).toBe(
      "Dropped: names a person who was erased (GDPR delete): not stored. Only its type and message id are kept.",
    );
    expect(missingBodyNote(live(2))).toMatch(/too large/);
  });
});
