/**
 * Asks before an in-app link leaves a form with unsaved changes: the router draws the next page at once, and what
 * was typed is gone. Leaving the console itself (reload, closing the tab, Back to another site, typing an address) is
 * asked by the browser's own dialog through `beforeunload`, whose wording the browser chooses. Back and Forward
 * between console pages are not asked about: the router has already drawn the other page when it hears of them.
 */
import { useEffect } from "preact/hooks";

/**
 * While `dirty`, a click on a link to another console page asks first (declined, the page stays as it is), and so
 * does the browser before the page is unloaded.
 *
 * @example useLeaveGuard(name !== saved.name, "this destination");
 */
export function useLeaveGuard(dirty: boolean, what: string): void {
  useEffect(() => {
    if (!dirty) return;
    const onClick = (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const link = e.target instanceof Element ? e.target.closest("a[href]") : null;
      if (!(link instanceof HTMLAnchorElement) || link.target || link.origin !== location.origin) return;
      if (link.pathname === location.pathname && link.search === location.search) return;
      if (window.confirm(`Leave this page? Your unsaved changes to ${what} will be lost.`)) return;
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
    document.addEventListener("click", onClick, true);
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => {
      document.removeEventListener("click", onClick, true);
      window.removeEventListener("beforeunload", onBeforeUnload);
    };
  }, [dirty, what]);
}
