/**
 * A destination's dead letters as a table, a page at a time: the first page (read by the destination page) and, on
 * "Load more", the next ones by the listing's cursor (a destination can hold thousands of them).
 */
import type { DeadLetterList } from "@tessera/protocol";
import { JsonView, Time } from "../components/json-view";
import { ErrorNote } from "../components/notes";
import { Table } from "../components/table";
import { profileHref } from "../profile-refs";
import { useMorePages } from "../use-api";

/** Dead letters per page, the first one included. */
export const DEAD_LETTER_PAGE = 100;

/** The first page of the dead letters of `destinationId`, as the page reads it. */
export const deadLettersPath = (destinationId: string, cursor?: string) =>
  `/v1/destinations/${encodeURIComponent(destinationId)}/dead-letters?limit=${DEAD_LETTER_PAGE}` +
  (cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`);

/** `first` and the pages loaded after it. */
export function DeadLetterRows({ destinationId, first }: { destinationId: string; first: DeadLetterList }) {
  const pages = useMorePages(first, (cursor) => deadLettersPath(destinationId, cursor));
  return (
    <>
      <Table
        rows={pages.rows}
        rowKey={(l) => l.id}
        columns={[
          { header: "Profile", cell: (l) => <a href={profileHref(l.profile_id)}>{l.profile_id}</a> },
          { header: "Error", class: "reason", cell: (l) => l.error },
          { header: "When", cell: (l) => <Time iso={l.created_at} /> },
          {
            header: "Operation",
            cell: (l) => (
              <details>
                <summary>Show</summary>
                <JsonView value={l.op} />
              </details>
            ),
          },
        ]}
      />
      <ErrorNote error={pages.error} />
      {pages.hasMore ? (
        <button type="button" class="quiet" disabled={pages.loading} onClick={() => void pages.loadMore()}>
          {pages.loading ? "Loading…" : "Load more"}
        </button>
      ) : null}
    </>
  );
}
