import { useCallback, useEffect, useState } from "preact/hooks";
import { api, messageOf } from "./api";

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
  reload(): void;
}

/**
 * Reads `path` (null: nothing yet) and again whenever it changes or `reload()` is called.
 *
 * @example const { data, error } = useApi<SourceList>("/v1/sources");
 */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: path !== null });
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    api<T>(path, { signal: abort.signal }).then(
      (data) => setState({ data, loading: false }),
      (err) => {
        if (!abort.signal.aborted) setState({ error: messageOf(err), loading: false });
      },
    );
    return () => abort.abort();
  }, [path, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
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
