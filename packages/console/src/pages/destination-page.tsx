import type { DeadLetterList, DeadLettersReplayed, Destination, SyncLogPage } from "@tessera/protocol";
import { useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { api, messageOf } from "../api";
import { Time } from "../components/json-view";
import { ErrorNote, Loading, StatusNote } from "../components/notes";
import { DeadLetterRows, deadLettersPath } from "../destinations/dead-letter-rows";
import { DeleteDestination } from "../destinations/delete-destination";
import { DestinationForm } from "../destinations/destination-form";
import { InboundUrl } from "../destinations/inbound-url";
import { LastError } from "../destinations/last-error";
import { PausedNote } from "../destinations/paused-note";
import { ReconcileNow } from "../destinations/reconcile-now";
import { replayNote } from "../destinations/replay-note";
import { SyncLog, syncLogPath } from "../destinations/sync-log";
import { useApi } from "../use-api";

/** One destination: how its sync goes, its settings, its deletion, dead letters to replay and the sync log. */
export function DestinationPage() {
  const id = useRoute().params.id ?? "";
  const destination = useApi<Destination>(`/v1/destinations/${encodeURIComponent(id)}`);
  // The profile the sync log is filtered by: its first page is read with the page's, so Refresh reads it again too.
  const [logProfile, setLogProfile] = useState<string>();
  const log = useApi<SyncLogPage>(syncLogPath(id, logProfile));
  const dead = useApi<DeadLetterList>(deadLettersPath(id));
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();
  const refresh = () => {
    destination.reload();
    log.reload();
    dead.reload();
  };
  const replay = async () => {
    setError(undefined);
    try {
      const r = await api<DeadLettersReplayed>(`/v1/destinations/${id}/dead-letters/replay`, { method: "POST" });
      setStatus(replayNote(r));
      refresh();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const d = destination.data;
  if (!d) {
    return destination.error ? (
      <>
        <h1>Destination</h1>
        <ErrorNote error={destination.error} />
      </>
    ) : (
      <Loading what="the destination" />
    );
  }
  const counters: Array<[string, number]> = [
    ["Pending", d.status.pending],
    ["Delivered", d.status.delivered],
    ["Failed", d.status.failed],
    ["Skipped", d.status.skipped],
    ["Dead letters", d.status.dead_letters],
  ];
  return (
    <>
      <h1>
        {d.name} <span class="muted">({d.type})</span>
      </h1>
      {/* A failed Refresh leaves the page as last read, and the settings being typed with it. */}
      <ErrorNote error={destination.error} />
      <section aria-labelledby="h-status">
        <h2 id="h-status">Status</h2>
        <dl class="counters">
          {counters.map(([label, value]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
        <PausedNote status={d.status} />
        <p>
          Last success <Time iso={d.status.last_success_at} />
          {d.status.last_error ? (
            <>
              {" "}
              · last error <LastError status={d.status} />
            </>
          ) : null}
        </p>
        <div class="row">
          <button type="button" class="quiet" onClick={refresh}>
            Refresh
          </button>
          <ReconcileNow destination={d} onQueued={refresh} />
        </div>
        <InboundUrl type={d.type} url={d.webhook_url} />
      </section>
      <section aria-labelledby="h-settings">
        <h2 id="h-settings">Settings</h2>
        <DestinationForm
          saved={d}
          onSaved={() => {
            setStatus("Saved.");
            destination.reload();
          }}
        />
      </section>
      {/* Above the dead letters and the log, which arrive after the page is drawn and grow on "Load more": below them,
          the button would move away from a pointer on its way to it. */}
      <DeleteDestination destination={d} />
      <section aria-labelledby="h-dead">
        <h2 id="h-dead">Dead letters</h2>
        <StatusNote text={status} />
        <ErrorNote error={error ?? dead.error} />
        {dead.data && dead.data.data.length > 0 ? (
          <>
            <button type="button" onClick={() => void replay()}>
              Replay
            </button>
            <DeadLetterRows destinationId={id} first={dead.data} />
          </>
        ) : dead.data ? (
          <p class="muted">No dead letters.</p>
        ) : null}
      </section>
      <section aria-labelledby="h-log">
        <h2 id="h-log">Sync log</h2>
        <SyncLog destinationId={id} first={log.data} error={log.error} profile={logProfile} onFilter={setLogProfile} />
      </section>
    </>
  );
}
