/**
 * Work kept across a sign-out nobody asked for: when the API refuses the stored key (revoked or rotated meanwhile),
 * the open forms' drafts go to `sessionStorage` with the page's path, and once signed in again on that page each
 * form starts from its draft. Only what a form hands over is kept: never the secret key (session.ts alone holds it),
 * and the forms leave out the vendor secrets typed into them.
 */
import { useEffect, useRef, useState } from "preact/hooks";

const STORAGE_KEY = "tessera.console.drafts";

interface KeptWork {
  path: string;
  drafts: Record<string, unknown>;
}

/** The forms drawn now, each with a reader of its current draft. */
const open = new Map<string, () => unknown>();

function read(): KeptWork | undefined {
  try {
    const kept = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null") as KeptWork | null;
    return kept && typeof kept.path === "string" && typeof kept.drafts === "object" ? kept : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes the open forms' drafts down for `path`. Called as the key is refused, while the forms are still drawn; a
 * later refusal on the same page (another call in flight, the forms gone by then) adds to what was kept.
 */
export function keepOpenDrafts(path = location.pathname): void {
  const kept = read();
  const drafts = kept?.path === path ? kept.drafts : {};
  for (const [id, current] of open) drafts[id] = current();
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ path, drafts } satisfies KeptWork));
}

/** Whether drafts wait on this page (the sign-in form says so). */
export function hasKeptWork(): boolean {
  const kept = read();
  return kept?.path === location.pathname && Object.keys(kept.drafts).length > 0;
}

/** Whether a draft of form `id` waits on this page. */
export function hasDraft(id: string): boolean {
  const kept = read();
  return kept?.path === location.pathname && id in kept.drafts;
}

/** Drops whatever was kept: on a deliberate sign-out. */
export function forgetDrafts(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Drops drafts kept for another page than `path`: the user went elsewhere, so they are not coming back later. */
export function forgetDraftsElsewhere(path: string): void {
  const kept = read();
  if (kept && kept.path !== path) forgetDrafts();
}

function takeDraft<T>(id: string): T | undefined {
  const kept = read();
  if (kept?.path !== location.pathname || !(id in kept.drafts)) return undefined;
  const draft = kept.drafts[id] as T;
  delete kept.drafts[id];
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(kept));
  return draft;
}

/**
 * Registers form `id` for as long as it is drawn (`current` reads its draft when the key is refused) and returns the
 * draft kept for it on this page, once, when it is first drawn.
 *
 * @example const draft = useDraft("destination", () => ({ name, traits }));
 * const [name, setName] = useState(draft?.name ?? "");
 */
export function useDraft<T>(id: string, current: () => T): T | undefined {
  const [kept] = useState(() => takeDraft<T>(id));
  const latest = useRef(current);
  latest.current = current;
  useEffect(() => {
    open.set(id, () => latest.current());
    return () => {
      open.delete(id);
    };
  }, [id]);
  return kept;
}
