/**
 * What "Replay" says after `POST /v1/destinations/{id}/dead-letters/replay`. The answer's only field, `replayed`,
 * counts dead letters queued again, not operations sent: one older than what the destination synced (or has waiting)
 * since is dropped unsent, and one the vendor refuses again becomes a dead letter again. Saying "Replayed 20" would
 * promise 20 deliveries.
 *
 * @example replayNote({ replayed: 2 }) // "2 dead letters queued again. …"
 */
import type { DeadLettersReplayed } from "@tessera/protocol";

export function replayNote({ replayed }: DeadLettersReplayed): string {
  if (replayed === 0) return "Nothing was queued again: there were no dead letters left to replay.";
  return (
    `${replayed} dead letter${replayed === 1 ? "" : "s"} queued again, sent at the vendor's pace. ` +
    "One older than what was synced for its member since is not sent (the newer state stands); " +
    "one the vendor refuses again comes back here."
  );
}
