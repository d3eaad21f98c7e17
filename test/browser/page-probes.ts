import type { Page } from "playwright-core";

/** Items in the SDK's IndexedDB queue for `writeKey`, read from inside the page (0 when there is no database). */
export function queuedCount(page: Page, writeKey = "wk_test"): Promise<number> {
  return page.evaluate(async (key) => {
    const names = (await indexedDB.databases()).map((d) => d.name);
    if (!names.includes(`tessera:${key}`)) return 0;
    return new Promise<number>((resolve, reject) => {
      const open = indexedDB.open(`tessera:${key}`);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const req = open.result.transaction("queue").objectStore("queue").count();
        req.onsuccess = () => {
          open.result.close();
          resolve(req.result);
        };
      };
    });
  }, writeKey);
}

/** Collects uncaught page errors, so a test can assert the SDK threw nothing into the page. */
export function pageErrors(page: Page): Error[] {
  const errors: Error[] = [];
  page.on("pageerror", (e) => errors.push(e));
  return errors;
}

/** The `window.tessera` of the page, typed loosely for `page.evaluate` bodies. */
export type PageTessera = {
  track(event: string, properties?: object): void;
  identify(userId: string, traits?: object): void;
  page(name?: string): void;
  reset(): void;
  setConsent(state: string, prefs?: object): void;
  flush(): Promise<void>;
  user(): { anonymousId: string; userId: string | null } | undefined;
  ready(): Promise<void>;
};
export const sdk = () => (window as unknown as { tessera: PageTessera }).tessera;

/** Waits a fixed while: only to let something that must NOT happen have its chance to. */
export const settle = (ms = 1500) => new Promise((r) => setTimeout(r, ms));
