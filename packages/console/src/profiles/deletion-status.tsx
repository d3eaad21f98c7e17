/**
 * Where a GDPR erase stands, read again every few seconds until its job is done (the destinations step waits for
 * every vendor to delete the person, which can take a while), with the reason of its last failed run.
 */
import type { Deletion } from "@tessera/protocol";
import { Time } from "../components/json-view";
import { ErrorNote } from "../components/notes";
import { useApi, useReloadWhile } from "../use-api";
import { deletionSummary } from "./deletion-summary";

/** How often a pending deletion is read again. */
export const DELETION_POLL_MS = 3000;

export function DeletionStatus({ id }: { id: string }) {
  const job = useApi<Deletion>(`/v1/deletions/${encodeURIComponent(id)}`);
  useReloadWhile(job.data?.status === "pending", job.reload, DELETION_POLL_MS);
  const d = job.data;
  return (
    <div class="status" role="status">
      {d ? (
        <>
          <p>
            {deletionSummary(d)}{" "}
            <span class="muted">
              Job {d.id}, requested <Time iso={d.created_at} />.
            </span>
          </p>
          {d.last_error ? <p class="reason">Last error: {d.last_error}</p> : null}
        </>
      ) : (
        <p>{job.error ? "Deletion requested." : "Deletion requested: reading its status…"}</p>
      )}
      <ErrorNote error={job.error} />
    </div>
  );
}
