/**
 * Opt-in SPA page tracking: `pushState` and `popstate` call `onPage(previousUrl)` only when the path or query
 * actually changed, so `replaceState` (routers call it for scroll state, often) and hash-only moves make none.
 */
export function trackHistory(onPage: (previousUrl: string) => void): void {
  const where = () => location.pathname + location.search;
  let last = where();
  let lastUrl = location.href;
  const check = (previous = lastUrl) => {
    if (where() === last) return;
    last = where();
    lastUrl = location.href;
    onPage(previous);
  };
  const push = history.pushState;
  history.pushState = function (this: History, ...args: Parameters<History["pushState"]>) {
    // The URL being left, including any replaceState the app did since the last page call.
    const previous = location.href;
    push.apply(this, args);
    check(previous);
  };
  addEventListener("popstate", () => check());
}
