/**
 * The live events feed's bookkeeping (DESIGN §11): what a new page of the long poll adds to what is shown, and what a
 * message without a body says instead of it.
 */
import type { LiveEvent } from "@tessera/protocol";

/**
 * `arrived` (oldest first, as the API answers) on top of `shown` (newest first), leaving out any `seq` already shown:
 * a page read again (a poll retried, a resume) never shows a message twice.
 *
 * @example mergeArrived([{ seq: 2 }, { seq: 1 }], [{ seq: 2 }, { seq: 3 }], 200) // seqs 3, 2, 1
 */
export function mergeArrived(shown: LiveEvent[], arrived: LiveEvent[], kept: number): LiveEvent[] {
  const seen = new Set(shown.map((e) => e.seq));
  const fresh = arrived.filter((e) => !seen.has(e.seq)).reverse();
  return fresh.length === 0 ? shown : [...fresh, ...shown].slice(0, kept);
}

/**
 * What of `shown` the feed still holds, read whole (`held`, from `after=0`, with its `cursor`) after an erasure withdrew
 * a person's messages: a shown message the feed no longer has goes, one newer than that read stays. Messages cleared
 * from the page stay cleared.
 *
 * @example keepStillHeld([{ seq: 3 }, { seq: 2 }, { seq: 1 }], [{ seq: 1 }, { seq: 3 }], 3) // seqs 3, 1
 */
export function keepStillHeld(shown: LiveEvent[], held: LiveEvent[], cursor: number): LiveEvent[] {
  const seqs = new Set(held.map((e) => e.seq));
  return shown.filter((e) => e.seq > cursor || seqs.has(e.seq));
}

/** Why a message's body is not shown: a dropped one is kept without it on purpose (it names an erased person). */
export function missingBodyNote(e: LiveEvent): string {
  if (e.status === "dropped") {
    return `Dropped: ${e.error ?? "it names an erased person"}. Only its type and message id are kept.`;
  }
  return "The message is not shown: it was not a JSON object, or too large.";
}
