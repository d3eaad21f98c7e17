/**
 * The messageIds one import run has sent. The collector stores a messageId once, so a second row under an id already
 * used for *other* content (a line-item export whose `--message-id` column is the receipt number) would be accepted
 * and dropped without a word; such a row is refused here instead, with the reason. The same message again (a
 * duplicated row) is fine: it is stored once, as it should be.
 *
 * Memory: one short entry per distinct id (~100 B; a million-row file ~100 MB). Rows skipped by `--resume` are
 * claimed too (not sent), so a clash across the resume point is caught as well.
 */
import { createHash } from "node:crypto";

export class MessageIdLedger {
  /** messageId → `row:digest` of the first message sent under it. */
  private readonly seen = new Map<string, string>();

  /**
   * Records `message` (from input row `row`) under `messageId`; returns why it must not be sent, or null.
   *
   * @example ledger.claim("R-1", { event: "Order Completed", properties: { sku: "TEA" } }, 2)
   * // 'messageId "R-1" is row 1's already, with other content: …'
   */
  claim(messageId: string, message: unknown, row: number): string | null {
    const digest = createHash("sha256").update(JSON.stringify(message)).digest("base64url").slice(0, 16);
    const earlier = this.seen.get(messageId);
    if (earlier === undefined) {
      this.seen.set(messageId, `${row}:${digest}`);
      return null;
    }
    const at = earlier.indexOf(":");
    if (earlier.slice(at + 1) === digest) return null;
    return (
      `messageId "${messageId}" is row ${earlier.slice(0, at)}'s already, with other content: the collector would ` +
      "keep only the first. Each row needs an id of its own (for line items, --message-id a line id, or leave it " +
      "out to hash each row)"
    );
  }
}
