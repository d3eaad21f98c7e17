import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { type PageTessera, pageErrors } from "./page-probes";
import type { Site } from "./site";

describe("with cookies and site data blocked", () => {
  let site: Site;
  let browser: OpenBrowser;
  // Chromium's "block all cookies" also denies localStorage and IndexedDB to pages.
  useSiteAndBrowser(
    (s, b) => {
      site = s;
      browser = b;
    },
    { blockStorage: true },
  );

  it("works from memory and throws nothing into the page", async () => {
    site.page("/blocked", {
      loadOptions: { flushInterval: 100 },
      script: 'tessera.page(); tessera.identify("u-blocked", { email: "b@example.com" }); tessera.track("Works");',
    });
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${site.url}/blocked`);

    // The blocking is real: the page itself cannot touch storage.
    const blocked = await page.evaluate(async () => {
      let localStorageThrows = false;
      try {
        localStorage.getItem("x");
      } catch {
        localStorageThrows = true;
      }
      // biome-ignore lint/suspicious/noDocumentCookie: probing that the browser blocks cookie writes.
      document.cookie = "probe=1";
      const idb = await new Promise<string>((resolve) => {
        try {
          const req = indexedDB.open("probe");
          req.onsuccess = () => resolve("opened");
          req.onerror = () => resolve("error");
        } catch {
          resolve("threw");
        }
      });
      return { localStorageThrows, cookie: document.cookie, idb };
    });
    expect(blocked).toEqual({ localStorageThrows: true, cookie: "", idb: expect.not.stringMatching("opened") });

    await expect.poll(() => site.batches.flatMap((b) => b.body.batch).length, { timeout: 10_000 }).toBe(3);
    const messages = site.batches.flatMap((b) => b.body.batch) as unknown as {
      type: string;
      anonymousId: string;
      userId?: string;
    }[];
    expect(messages.map((m) => m.type)).toEqual(["page", "identify", "track"]);
    expect(new Set(messages.map((m) => m.anonymousId)).size).toBe(1);
    expect(messages[2].userId).toBe("u-blocked");

    const user = await page.evaluate(() => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      t.reset();
      t.track("After Reset");
      return t.user();
    });
    expect(user?.anonymousId).not.toBe(messages[0].anonymousId);
    expect(errors).toEqual([]);
  });
});
