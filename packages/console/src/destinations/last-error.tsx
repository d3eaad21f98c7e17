/**
 * A destination's current problem (`status.last_error`) with when it happened, so an error the sync has since got
 * past (it is then cleared) is never mistaken for an old one, nor an old one for a current one.
 */
import type { DestinationStatus } from "@tessera/protocol";
import { Time } from "../components/json-view";

export function LastError({ status }: { status: DestinationStatus }) {
  if (!status.last_error) return null;
  return (
    <>
      {/* An error recorded before errors had a time has none to show. */}
      {status.last_error_at ? (
        <>
          <Time iso={status.last_error_at} />{" "}
        </>
      ) : null}
      <span class="reason">{status.last_error}</span>
    </>
  );
}
