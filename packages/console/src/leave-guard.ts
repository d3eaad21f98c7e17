/**
 * Asks before an in-app link leaves a form with unsaved changes: the router draws the next page at once, and what
 * was typed is gone. Leaving the console itself (reload, closing the tab, Back to another site, typing an address) is
 * asked by the browser's own dialog through `beforeunload`, whose wording the browser chooses. Back and Forward
 * between console pages ask as a link does, before the router hears of them.
 */
import { useLayoutEffect } from "preact/hooks";

/** Asks whether to leave the unsaved changes to `what` behind (a link, Back or Forward). */
const confirmLeaving = (what: string) =>
  window.confirm(`Leave this page? Your unsaved changes to ${what} will be lost.`);

/** The forms with unsaved changes drawn now, each with the address it is at. */
const guards = new Set<{ what: string; stay: string }>();

// Back or Forward has moved the address already when `popstate` fires, and the router draws that page on hearing it.
// Listeners on window run in the order they were added, capture or not (Chromium), so this one is added as the module
// loads, before the router adds its own as it is first drawn: a declined move is hidden from the router and the
// form's address put back. History cannot be moved back without knowing by how many steps, so the address is pushed
// again: the entries Forward would have reached are dropped.
addEventListener("popstate", (e) => {
  const [guard] = guards;
  if (!guard || location.href === guard.stay) return;
  if (confirmLeaving(guard.what)) return;
  e.stopImmediatePropagation();
  history.pushState(null, "", guard.stay);
});

/**
 * While `dirty`, a click on a link to another console page, Back and Forward ask first (declined, the page stays as
 * it is), and so does the browser before the page is unloaded.
 *
 * @example useLeaveGuard(name !== saved.name, "this destination");
 */
export function useLeaveGuard(dirty: boolean, what: string): void {
  // A layout effect, run as the change is drawn: a passive one waits for the next frame, and a Back pressed before it
  // would leave unasked.
  useLayoutEffect(() => {
    if (!dirty) return;
    const onClick = (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const link = e.target instanceof Element ? e.target.closest("a[href]") : null;
      if (!(link instanceof HTMLAnchorElement) || link.target || link.origin !== location.origin) return;
      if (link.pathname === location.pathname && link.search === location.search) return;
      if (confirmLeaving(what)) return;
      // Before the router's own listener (on window, bubbling) sees the click.
      e.preventDefault();
      e.stopPropagation();
    };
    // Only while dirty: a listener there always would make the browser ask on every reload, and keeps the page out of
    // the back/forward cache.
    const onBeforeUnload = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      // Chromium before 119 asks only when returnValue is set.
      e.returnValue = "";
    };
    const guard = { what, stay: location.href };
    guards.add(guard);
    document.addEventListener("click", onClick, true);
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => {
      document.removeEventListener("click", onClick, true);
      window.removeEventListener("beforeunload", onBeforeUnload);
      guards.delete(guard);
    };
  }, [dirty, what]);
}
