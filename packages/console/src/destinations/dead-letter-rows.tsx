/**
 * A destination's dead letters as a table, a page at a time: the first page (read by the destination page) and, on
 * "Load more", the next ones by the listing's cursor (a destination can hold thousands of them).
 */
import type { DeadLetter, DeadLetterList } from "@tessera/protocol";
import { useEffect, useState } from "preact/hooks";
import { api, messageOf } from "../api";
import { JsonView, Time } from "../components/json-view";
import { ErrorNote } from "../components/notes";
import { Table } from "../components/table";
import { profileHref } from "../profile-refs";

/** Dead letters per page, the first one included. */
export const DEAD_LETTER_PAGE = 100;

/** The first page of the dead letters of `destinationId`, as the page reads it. */
export const deadLettersPath = (destinationId: string, cursor?: string) =>
  `/v1/destinations/${encodeURIComponent(destinationId)}/dead-letters?limit=${DEAD_LETTER_PAGE}` +
  (cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`);

/** `first` and the pages loaded after it. */
export function DeadLetterRows({ destinationId, first }: { destinationId: string; first: DeadLetterList }) {
  const [more, setMore] = useState<DeadLetter[]>([]);
  const [next, setNext] = useState(first.cursor.next);
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  // A new first page (a refresh, a replay) starts the list over.
  useEffect(() => {
    setMore([]);
    setNext(first.cursor.next);
    setError(undefined);
  }, [first]);
  const loadMore = async () => {
    if (next === null) return;
    setLoading(true);
    setError(undefined);
    try {
      const page = await api<DeadLetterList>(deadLettersPath(destinationId, next));
      setMore((rows) => [...rows, ...page.data]);
      setNext(page.cursor.next);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setLoading(false);
    }
  };
  return (
    <>
      <Table
        rows={[...first.data, ...more]}
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
      <ErrorNote error={error} />
      {next !== null ? (
        <button type="button" class="quiet" disabled={loading} onClick={() => void loadMore()}>
          {loading ? "Loading…" : "Load more"}
        </button>
      ) : null}
    </>
  );
}
