import type { Destination, ReconcileStarted } from "@tessera/protocol";
import { useState } from "preact/hooks";
import { api } from "../api";
import { ConfirmAction } from "../components/confirm-action";
import { StatusNote } from "../components/notes";

/**
 * "Reconcile now": the drift repair the cron runs every minute (DESIGN §7), started at once and followed page by
 * page (the API examines a bounded number of members per call), then says how many repairs were queued. Started on a
 * destination paused after the vendor refused its credentials, the API also ends the pause and sends what waited, so
 * the note says that too: "nothing to repair" alone would read as if nothing happened.
 */
export function ReconcileNow({ destination, onQueued }: { destination: Destination; onQueued(): void }) {
  const [status, setStatus] = useState<string>();
  const reconcile = async () => {
    setStatus(undefined);
    // As the page last read it: the API ends the pause as this first call arrives, and a later read would not show it.
    const { paused_until } = destination.status;
    const wasPaused = destination.enabled && !!paused_until && Date.parse(paused_until) > Date.now();
    const path = `/v1/destinations/${encodeURIComponent(destination.id)}/reconcile`;
    let queued = 0;
    let cursor: string | null = null;
    do {
      const page: ReconcileStarted = await api<ReconcileStarted>(
        cursor === null ? path : `${path}?cursor=${encodeURIComponent(cursor)}`,
        { method: "POST" },
      );
      queued += page.queued;
      cursor = page.cursor.has_more ? page.cursor.next : null;
    } while (cursor !== null);
    setStatus(summary(queued, destination.enabled, wasPaused));
    onQueued();
  };
  return (
    <>
      <ConfirmAction
        label="Reconcile now"
        question={`Reconcile ${destination.name} now?`}
        confirm="Reconcile"
        onConfirm={reconcile}
      >
        <p>
          Compares the members of its audiences with what {destination.name} was last sent, both ways: members it never
          got are sent again, as their profiles read now, and profiles it still lists after they left are removed.
          Members it already has cost nothing. The cron does the same every minute.
        </p>
      </ConfirmAction>
      <StatusNote text={status} />
    </>
  );
}

function summary(queued: number, enabled: boolean, wasPaused: boolean): string {
  if (!enabled) return "Nothing was queued: the destination is disabled, so nothing is sent to it.";
  const repairs = `${queued} repair${queued === 1 ? "" : "s"} queued (entries the vendor lacks, exits it missed)`;
  if (wasPaused) {
    return (
      "Reconciled: the pause after the vendor refused the credentials has ended, and the changes waiting are being " +
      `sent now${queued === 0 ? "; nothing else to repair" : `, with ${repairs}`}. If the vendor refuses the ` +
      "credentials again, the destination pauses again."
    );
  }
  if (queued === 0) return "Reconciled: nothing to repair, the vendor has every member and no one else.";
  return `Reconciled: ${repairs}; they are sent at the vendor's pace.`;
}
