import type { LiveEvent, LiveEventsPage } from "@tessera/protocol";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, messageOf } from "../api";
import { JsonView, Time } from "../components/json-view";
import { ErrorNote } from "../components/notes";
import { keepStillHeld, mergeArrived, missingBodyNote } from "../live/live-feed";

/** Seconds each long poll waits for something new: the API's own cap is 25. */
const WAIT_SECONDS = 20;
const SHOWN = 200;
/** How each status reads in the timeline. */
const BADGES: Record<LiveEvent["status"], { label: string; class: string }> = {
  accepted: { label: "Accepted", class: "badge-ok" },
  rejected: { label: "Rejected", class: "badge-bad" },
  dropped: { label: "Dropped", class: "badge-warn" },
};

/** The workspace's messages as the collector accepts or rejects them (Segment's debugger), newest on top. */
export function LiveEvents() {
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const [paused, setPaused] = useState(false);
  const [error, setError] = useState<string>();
  // The last seq read, kept across a pause: a resume asks only for what came since, not the whole feed again.
  const after = useRef(0);
  // The feed's count of erasures when last read: a change means messages shown here may have been withdrawn.
  const erasures = useRef<number | null>(null);

  useEffect(() => {
    if (paused) return;
    const abort = new AbortController();
    const poll = async () => {
      while (!abort.signal.aborted) {
        try {
          const page = await api<LiveEventsPage>(`/v1/events/live?after=${after.current}&wait=${WAIT_SECONDS}`, {
            signal: abort.signal,
          });
          // A feed numbers from its start time, so one started again goes on above what is shown; a cursor that went
          // back (the server's clock did) means what is shown is not this feed's.
          if (page.cursor < after.current) setEvents([]);
          else if (erasures.current !== null && page.erasures !== erasures.current) {
            const held = await api<LiveEventsPage>("/v1/events/live?after=0", { signal: abort.signal });
            setEvents((old) => keepStillHeld(old, held.data, held.cursor));
          }
          erasures.current = page.erasures;
          after.current = page.cursor;
          if (page.data.length > 0) setEvents((old) => mergeArrived(old, page.data, SHOWN));
          setError(undefined);
        } catch (err) {
          if (abort.signal.aborted) return;
          setError(messageOf(err));
          await new Promise((r) => setTimeout(r, 3000));
        }
      }
    };
    void poll();
    return () => abort.abort();
  }, [paused]);

  return (
    <>
      <h1>Live events</h1>
      <p class="row">
        <span role="status" class="muted">
          {paused ? "Paused." : "Listening: messages appear as they arrive."}
        </span>
        <button type="button" onClick={() => setPaused(!paused)}>
          {paused ? "Resume" : "Pause"}
        </button>
        <button type="button" class="quiet" onClick={() => setEvents([])}>
          Clear
        </button>
      </p>
      <ErrorNote error={error} />
      {events.length === 0 ? (
        <p class="muted">Nothing yet. Send an event with a write key of this workspace.</p>
      ) : (
        <ol class="timeline" aria-label="Live events, newest first">
          {events.map((e) => (
            <li key={e.seq} class={e.status === "rejected" ? "rejected" : undefined}>
              <details>
                <summary>
                  <span class={`badge ${BADGES[e.status].class}`}>{BADGES[e.status].label}</span>{" "}
                  <strong>{e.event ?? e.type ?? "message"}</strong>{" "}
                  <span class="muted">
                    {e.type ?? "?"} · {e.user_id ?? e.anonymous_id ?? "no id"} · <Time iso={e.at} />
                  </span>
                  {e.error ? <span class="reason"> {e.error}</span> : null}
                </summary>
                {e.message ? <JsonView value={e.message} /> : <p class="muted">{missingBodyNote(e)}</p>}
              </details>
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
