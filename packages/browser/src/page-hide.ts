/**
 * Calls `onHide` when the page may be going away for good: `visibilitychange` to hidden (tab switch, app switch
 * on mobile, the last event iOS reliably fires) and `pagehide` (navigation, close). Never `unload` or
 * `beforeunload`: they break the back/forward cache and are unreliable on mobile.
 */
export function onPageHide(onHide: () => void): void {
  addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") onHide();
  });
  addEventListener("pagehide", onHide);
}
