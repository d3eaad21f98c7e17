import type { DefinitionStatus } from "@tessera/protocol";

/** "Ready", or "Building" with the backfill's progress. */
export function BuildStatus({ status }: { status: DefinitionStatus }) {
  if (status.state === "ready") return <span class="badge badge-ok">Ready</span>;
  return (
    <span class="badge badge-warn">
      Building {status.processed}/{status.total}
    </span>
  );
}
