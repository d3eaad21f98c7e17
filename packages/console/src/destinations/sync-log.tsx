/**
 * A destination's sync log, newest first: the first page (read by the destination page, so Refresh reads it again)
 * and, on "Older entries", the next ones by the log's cursor; optionally only one profile's entries, which the API
 * finds by profile id or by any identifier, merged-away profiles included (`GET /v1/destinations/{id}/log?profile=`).
 */
import type { SyncLogPage } from "@tessera/protocol";
import { useState } from "preact/hooks";
import { Time } from "../components/json-view";
import { ErrorNote } from "../components/notes";
import { Table } from "../components/table";
import { profileHref } from "../profile-refs";
import { useMorePages } from "../use-api";

/** Log entries per page, the first one included. */
export const SYNC_LOG_PAGE = 50;

/** A page of the log of `destinationId`: the first, or the one after `cursor`; only `profile`'s entries when given. */
export const syncLogPath = (destinationId: string, profile?: string, cursor?: string) =>
  `/v1/destinations/${encodeURIComponent(destinationId)}/log?limit=${SYNC_LOG_PAGE}` +
  (profile === undefined ? "" : `&profile=${encodeURIComponent(profile)}`) +
  (cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`);

export interface SyncLogProps {
  destinationId: string;
  /** The first page as read for `profile`; undefined while it loads. */
  first: SyncLogPage | undefined;
  /** Why the first page could not be read (an identifier no profile has, among others). */
  error: string | undefined;
  /** The profile the log is filtered by, as typed; undefined for every entry. */
  profile: string | undefined;
  onFilter(profile: string | undefined): void;
}

export function SyncLog({ destinationId, first, error, profile, onFilter }: SyncLogProps) {
  const [typed, setTyped] = useState(profile ?? "");
  const older = useMorePages(first, (cursor) => syncLogPath(destinationId, profile, cursor));
  const filter = (e: Event) => {
    e.preventDefault();
    const ref = typed.trim();
    onFilter(ref === "" ? undefined : ref);
  };
  const { rows } = older;
  return (
    <>
      <form class="row" onSubmit={filter} aria-label="Filter the sync log">
        <label for="sync-log-profile">Only the profile</label>
        <input
          id="sync-log-profile"
          type="search"
          placeholder="prf_…, email:jane@example.com, user_id:42"
          aria-describedby="sync-log-profile-hint"
          value={typed}
          onInput={(e) => setTyped(e.currentTarget.value)}
        />
        <button type="submit">Filter</button>
        {profile !== undefined ? (
          <button
            type="button"
            class="quiet"
            onClick={() => {
              setTyped("");
              onFilter(undefined);
            }}
          >
            Show every profile
          </button>
        ) : null}
      </form>
      <p id="sync-log-profile-hint" class="muted">
        A profile id or an identifier written <code>type:value</code>; the entries of profiles merged into it are
        included.
      </p>
      <ErrorNote error={error} />
      {first && rows.length === 0 ? (
        <p class="muted">{profile === undefined ? "Nothing synced yet." : `Nothing synced for ${profile}.`}</p>
      ) : null}
      {rows.length > 0 ? (
        <Table
          rows={rows}
          rowKey={(_e, i) => i}
          columns={[
            { header: "When", cell: (e) => <Time iso={e.at} /> },
            {
              header: "Profile",
              // Empty for a failure the vendor counted without naming anyone (see `error`).
              cell: (e) => (e.profile_id === "" ? "—" : <a href={profileHref(e.profile_id)}>{e.profile_id}</a>),
            },
            { header: "Audience", cell: (e) => e.audience ?? "—" },
            { header: "Action", cell: (e) => e.action },
            {
              header: "Outcome",
              cell: (e) => (
                <span
                  class={`badge ${e.outcome === "ok" ? "badge-ok" : e.outcome === "fail" ? "badge-bad" : "badge-warn"}`}
                >
                  {e.outcome}
                </span>
              ),
            },
            { header: "Attempts", class: "num", cell: (e) => e.attempts },
            { header: "Error", class: "reason", cell: (e) => e.error ?? "" },
          ]}
        />
      ) : null}
      <ErrorNote error={older.error} />
      {first && older.hasMore ? (
        <button type="button" class="quiet" disabled={older.loading} onClick={() => void older.loadMore()}>
          {older.loading ? "Loading…" : "Older entries"}
        </button>
      ) : null}
    </>
  );
}
