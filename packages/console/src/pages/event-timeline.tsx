import type { ProfileEventsPage } from "@tessera/protocol";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, messageOf } from "../api";
import { JsonView, Time } from "../components/json-view";
import { ErrorNote } from "../components/notes";
import { profileApi } from "../profile-refs";

type StoredEvent = ProfileEventsPage["data"][number];
const PAGE_SIZE = 25;

/**
 * A profile's events, newest first: the next page loads when the end of the list scrolls into view (or on "Load
 * more"), a filter narrows to one event name, and each event opens to the message as stored.
 */
export function EventTimeline({ profileId }: { profileId: string }) {
  const [filter, setFilter] = useState("");
  const [applied, setApplied] = useState("");
  const [events, setEvents] = useState<StoredEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string>();
  const end = useRef<HTMLDivElement>(null);
  const inFlight = useRef(false);
  /** The cursor of the page to load next, as of the last page received (state lags it by a render). */
  const nextCursor = useRef<string | null>(null);
  /** Bumped by each fresh list (another profile or filter): pages of an older list arriving late are dropped. */
  const list = useRef(0);

  const load = async (cursor: string | null, reset: boolean) => {
    // An observer from a render before the last page arrived may still ask for that page: it is already shown.
    if (!reset && (inFlight.current || cursor !== nextCursor.current)) return;
    if (reset) nextCursor.current = null;
    const mine = reset ? ++list.current : list.current;
    inFlight.current = true;
    setLoading(true);
    try {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set("cursor", cursor);
      if (applied) query.set("event", applied);
      const page = await api<ProfileEventsPage>(profileApi(profileId, `/events?${query}`));
      if (mine !== list.current) return;
      nextCursor.current = page.cursor.next;
      setEvents((old) => (reset ? page.data : [...old, ...page.data]));
      setNext(page.cursor.next);
      setHasMore(page.cursor.has_more);
      setError(undefined);
    } catch (err) {
      if (mine === list.current) setError(messageOf(err));
    } finally {
      if (mine === list.current) {
        inFlight.current = false;
        setLoading(false);
      }
    }
  };

  useEffect(() => {
    setEvents([]);
    void load(null, true);
  }, [profileId, applied]);

  useEffect(() => {
    const target = end.current;
    if (!target || !hasMore) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void load(next, false);
    });
    observer.observe(target);
    return () => observer.disconnect();
  });

  return (
    <>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filter.trim());
        }}
      >
        <label for="event-filter">Filter by event name</label>
        <input
          id="event-filter"
          type="search"
          placeholder="Order Completed"
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
        />
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={error} />
      <ol class="timeline" aria-label="Events, newest first">
        {events.map((e) => (
          <li key={e.messageId}>
            <details>
              <summary>
                <strong>{"event" in e && e.event ? e.event : e.type}</strong>{" "}
                <span class="muted">
                  {e.type} · <Time iso={e.timestamp} />
                </span>
              </summary>
              <JsonView value={e} />
            </details>
          </li>
        ))}
      </ol>
      {events.length === 0 && !loading && !error ? (
        <p class="muted">{applied ? `No "${applied}" events.` : "No events yet."}</p>
      ) : null}
      <div ref={end} class="timeline-end">
        {loading ? <span class="muted">Loading events…</span> : null}
        {hasMore && !loading ? (
          <button type="button" class="quiet" onClick={() => void load(next, false)}>
            Load more events
          </button>
        ) : null}
      </div>
    </>
  );
}
