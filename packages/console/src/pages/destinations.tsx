import type { DestinationList } from "@tessera/protocol";
import { useLocation } from "preact-iso";
import { Time } from "../components/json-view";
import { ErrorNote, Loading, StatusNote } from "../components/notes";
import { Table } from "../components/table";
import { deletedDestination } from "../destinations/delete-destination";
import { LastError } from "../destinations/last-error";
import { PausedBadge } from "../destinations/paused-note";
import { useApi } from "../use-api";

export function Destinations() {
  const list = useApi<DestinationList>("/v1/destinations");
  // Set by a destination's page after deleting it.
  const deleted = deletedDestination(useLocation().query.deleted);
  return (
    <>
      <h1>Destinations</h1>
      <p>
        <a class="button" href="/console/destinations/new">
          New destination
        </a>
      </p>
      {deleted ? (
        <StatusNote
          text={`Deleted destination ${deleted}: nothing is synced to it any more; what the vendor already had stays there.`}
        />
      ) : null}
      <ErrorNote error={list.error} />
      {!list.data ? (
        !list.error && <Loading what="destinations" />
      ) : list.data.data.length === 0 ? (
        <p class="muted">No destinations yet.</p>
      ) : (
        <Table
          rows={list.data.data}
          rowKey={(d) => d.id}
          columns={[
            {
              header: "Name",
              cell: (d) => (
                <>
                  <a href={`/console/destinations/${d.id}`}>{d.name}</a>
                  {d.enabled ? null : <span class="badge badge-warn"> disabled</span>} <PausedBadge status={d.status} />
                </>
              ),
            },
            { header: "Type", cell: (d) => d.type },
            { header: "Pending", class: "num", cell: (d) => d.status.pending },
            { header: "Delivered", class: "num", cell: (d) => d.status.delivered },
            { header: "Failed", class: "num", cell: (d) => d.status.failed },
            { header: "Dead letters", class: "num", cell: (d) => d.status.dead_letters },
            { header: "Last success", cell: (d) => <Time iso={d.status.last_success_at} /> },
            { header: "Last error", cell: (d) => <LastError status={d.status} /> },
          ]}
        />
      )}
    </>
  );
}
