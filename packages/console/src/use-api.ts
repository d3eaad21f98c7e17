import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, messageOf } from "./api";

export interface Loaded<T> {
  /** The last answer read from this path: kept when a later read of it fails (then `error` says why). */
  data?: T;
  error?: string;
  loading: boolean;
  reload(): void;
}

/**
 * Reads `path` (null: nothing yet) and again whenever it changes or `reload()` is called. A failed read again (a
 * refresh, a poll) keeps the data it had beside the error: a page drawn from it, and a form open on it, stay.
 *
 * @example const { data, error } = useApi<SourceList>("/v1/sources");
 */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; from?: string; error?: string; loading: boolean }>({
    loading: path !== null,
  });
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    api<T>(path, { signal: abort.signal }).then(
      (data) => setState({ data, from: path, loading: false }),
      (err) => {
        if (abort.signal.aborted) return;
        // Data read from another path (another profile, another filter) is not this one's.
        setState((s) => ({ ...(s.from === path ? s : {}), error: messageOf(err), loading: false }));
      },
    );
    return () => abort.abort();
  }, [path, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/**
 * Calls `reload` every `everyMs` while `active` holds (a build or a deletion still running), and stops when it no
 * longer does or the page is left.
 *
 * @example useReloadWhile(job.data?.status === "pending", job.reload, 3000);
 */
export function useReloadWhile(active: boolean, reload: () => void, everyMs: number): void {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, everyMs);
    return () => clearInterval(timer);
  }, [active, reload, everyMs]);
}

/** A page of a cursor-paged listing, as every paged route of the API answers one. */
interface Page<T> {
  data: T[];
  cursor: { next: string | null };
}

export interface MorePages<T> {
  /** The first page's rows, then every page loaded after it. */
  rows: T[];
  hasMore: boolean;
  loading: boolean;
  error?: string;
  loadMore(): Promise<void>;
}

/**
 * A listing read a page at a time: `first` (read by the page, so Refresh reads it again; undefined while it loads) and
 * the pages after it, each read from `pathAfter(cursor)` on `loadMore()`. A new `first` (a refresh, another filter)
 * starts the list over; a page still being read for the one before is dropped when it comes.
 *
 * @example const log = useMorePages(first, (cursor) => syncLogPath(id, profile, cursor));
 */
export function useMorePages<T>(first: Page<T> | undefined, pathAfter: (cursor: string) => string): MorePages<T> {
  const [more, setMore] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  // The first page the list shown follows: a page asked for after an earlier one would append rows (and a cursor)
  // of a listing that is gone.
  const listed = useRef(first);
  // The first page a read is under way after, set at once (not at the next render as `loading` is): a second click
  // before it (a double click) reads nothing, while a list started over can be read on at once.
  const reading = useRef<Page<T> | undefined>(undefined);
  useEffect(() => {
    listed.current = first;
    setMore([]);
    setNext(first?.cursor.next ?? null);
    setError(undefined);
    setLoading(false);
  }, [first]);
  const loadMore = async () => {
    if (next === null || !first || reading.current === first) return;
    const after = first;
    reading.current = after;
    setLoading(true);
    setError(undefined);
    try {
      const page = await api<Page<T>>(pathAfter(next));
      if (listed.current !== after) return;
      setMore((rows) => [...rows, ...page.data]);
      setNext(page.cursor.next);
    } catch (err) {
      if (listed.current === after) setError(messageOf(err));
    } finally {
      if (reading.current === after) {
        reading.current = undefined;
        setLoading(false);
      }
    }
  };
  return { rows: first ? [...first.data, ...more] : [], hasMore: next !== null, loading, error, loadMore };
}
