/**
 * A destination whose vendor refused the credentials (401/403) is paused until `status.paused_until`: nothing is sent
 * before then unless new credentials are saved, a test of them succeeds or a reconciliation is started. Said where
 * the destination is seen, or the marketer waits for syncs that are not coming.
 */
import type { DestinationStatus } from "@tessera/protocol";
import { shortTime, Time } from "../components/json-view";

/** The destination page's sentence about a pause, or nothing. */
export function PausedNote({ status }: { status: DestinationStatus }) {
  if (!status.paused_until) return null;
  return (
    <p class="paused">
      <span class="badge badge-bad">Paused</span> until <Time iso={status.paused_until} short /> after the vendor
      refused the credentials: save new credentials or Reconcile now to try again.
    </p>
  );
}

/** The destinations list's badge for a pause, or nothing. */
export function PausedBadge({ status }: { status: DestinationStatus }) {
  if (!status.paused_until) return null;
  return (
    <span
      class="badge badge-bad"
      title={`The vendor refused the credentials; nothing is sent before ${status.paused_until}.`}
    >
      paused until {shortTime(status.paused_until)}
    </span>
  );
}
