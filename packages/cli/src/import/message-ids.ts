/**
 * The messageIds one import run has sent. The collector stores a messageId once, so a second row under an id already
 * used for *other* content (a line-item export whose `--message-id` column is the receipt number) would be accepted
 * and dropped without a word; such a row is refused here instead, with the reason. The same message again (a
 * duplicated row) is fine: it is stored once, as it should be. Rows skipped by `--resume` are claimed too (not sent),
 * so a clash across the resume point is caught as well.
 *
 * Memory: the ledger spans the whole file, so it is the one part of an import that grows with the file. It is a
 * hand-written open-addressing table over one typed array, 16 bytes a slot (at most 32 per id at the lowest load),
 * because the obvious `Map<string, string>` cost ~220 B of heap per id — 3,000,000 rows took the CLI to 1.6 GB — and
 * V8's Map holds at most 2^24 entries, so an export of 17 million rows could never finish, not even with `--resume`.
 * An id is kept as 64 bits of its SHA-256 and its content as 32: two distinct ids of a 10-million-row file share a
 * key with a chance of about 3 in a million, and that would refuse one row with a reason, never drop one unseen.
 */
import { createHash } from "node:crypto";

/** Words per slot: the id's hash (two words), the content's digest, the row + 1 (0 marks an empty slot). */
const WORDS = 4;
const FIRST_SLOTS = 1 << 12;

export class MessageIdLedger {
  private slots = new Uint32Array(FIRST_SLOTS * WORDS);
  private used = 0;

  /**
   * Records `message` (from input row `row`) under `messageId`; returns why it must not be sent, or null.
   *
   * @example ledger.claim("R-1", { event: "Order Completed", properties: { sku: "TEA" } }, 2)
   * // 'messageId "R-1" is row 1's already, with other content: …'
   */
  claim(messageId: string, message: unknown, row: number): string | null {
    const id = createHash("sha256").update(messageId).digest();
    const hi = id.readUInt32LE(0);
    const lo = id.readUInt32LE(4);
    const content = createHash("sha256").update(JSON.stringify(message)).digest().readUInt32LE(0);
    const at = this.find(hi, lo);
    const earlierRow = this.slots[at + 3];
    if (earlierRow === 0) {
      this.slots[at] = hi;
      this.slots[at + 1] = lo;
      this.slots[at + 2] = content;
      this.slots[at + 3] = row + 1;
      if (++this.used * 2 > this.slots.length / WORDS) this.grow();
      return null;
    }
    if (this.slots[at + 2] === content) return null;
    return (
      `messageId "${messageId}" is row ${earlierRow - 1}'s already, with other content: the collector would ` +
      "keep only the first. Each row needs an id of its own (for line items, --message-id a line id, or leave it " +
      "out to hash each row)"
    );
  }

  /** The slot (as a word offset) holding this id, or the empty one where it belongs: linear probing. */
  private find(hi: number, lo: number): number {
    const mask = this.slots.length / WORDS - 1;
    for (let slot = lo & mask; ; slot = (slot + 1) & mask) {
      const at = slot * WORDS;
      if (this.slots[at + 3] === 0 || (this.slots[at] === hi && this.slots[at + 1] === lo)) return at;
    }
  }

  /** Twice the slots, every entry placed again: the table stays at most half full, so probes stay short. */
  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    for (let at = 0; at < old.length; at += WORDS)
      if (old[at + 3] !== 0) this.slots.set(old.subarray(at, at + WORDS), this.find(old[at], old[at + 1]));
  }
}
