/**
 * Where the user is, said the way assistive technology hears it: the tab's title follows the page's main heading
 * ("Profiles · Tessera"), and after a move to another page focus goes to that heading, so a screen reader reads it
 * instead of staying on a link of the page that went away. Pages draw their heading once their data arrives, so the
 * main region is watched until it does.
 */
import type { RefObject } from "preact";
import { useEffect, useRef } from "preact/hooks";

/** `document.title` for a page called `name`. */
export const titleOf = (name: string) => `${name} · Tessera`;

export interface PageHeadingOptions {
  /** The title until the page draws its heading (the section's name). */
  fallback: string;
  /** Also move focus on the first page drawn: after signing in, the form that had it is gone. */
  focusFirst: boolean;
}

/**
 * Follows the `h1` inside `main` for each `path`.
 *
 * @example usePageHeading(mainRef, path, { fallback: "Profiles", focusFirst: false });
 */
export function usePageHeading(main: RefObject<HTMLElement | null>, path: string, options: PageHeadingOptions): void {
  const first = useRef(true);
  const { fallback, focusFirst } = options;
  useEffect(() => {
    const region = main.current;
    if (!region) return;
    let focusPending = first.current ? focusFirst : true;
    first.current = false;
    // What had focus when the move began (the link clicked); anything else focused since is the user's own choice.
    const focusedAtMove = document.activeElement;
    document.title = titleOf(fallback);
    const follow = () => {
      const heading = region.querySelector("h1");
      if (!heading) return;
      const text = (heading.textContent ?? "").replace(/\s+/g, " ").trim();
      if (text) document.title = titleOf(text);
      if (!focusPending) return;
      focusPending = false;
      const now = document.activeElement;
      if (now === focusedAtMove || now === null || now === document.body || !now.isConnected) {
        heading.tabIndex = -1;
        heading.focus();
      }
    };
    follow();
    const observer = new MutationObserver(follow);
    observer.observe(region, { childList: true, subtree: true, characterData: true });
    return () => observer.disconnect();
  }, [main, path, fallback, focusFirst]);
}
