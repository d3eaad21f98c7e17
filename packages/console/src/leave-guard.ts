/**
 * Asks before an in-app link leaves a form with unsaved changes: the router draws the next page at once, and what
 * was typed is gone. Only links are asked about (the browser's own back button and reload are not).
 */
import { useEffect } from "preact/hooks";

/**
 * While `dirty`, a click on a link to another console page asks first; declined, the page stays as it is.
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
    document.addEventListener("click", onClick, true);
    return () => document.removeEventListener("click", onClick, true);
  }, [dirty, what]);
}
