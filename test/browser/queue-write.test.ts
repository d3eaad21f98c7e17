import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { type PageTessera, pageErrors, queuedCount } from "./page-probes";
import type { Site } from "./site";

describe("the IndexedDB queue write", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  it("stores every event of a tick although one carries a function, and the next page delivers them all", async () => {
    site.page("/offline", { loadOptions: { flushInterval: 60_000 } });
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${site.url}/offline`);
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.ready());
    await browser.context.setOffline(true);
    await page.evaluate(() => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      t.track("O1");
      t.track("Fn", { cb: () => 1 });
      t.track("O2");
    });
    // Before the fix only O1 was stored: the function made IndexedDB's clone throw for the rest of the write.
    await expect.poll(() => queuedCount(page), { timeout: 5000 }).toBe(3);
    await page.close();
    await browser.context.setOffline(false);

    site.page("/online", { loadOptions: { flushInterval: 100 } });
    const next = await browser.context.newPage();
    await next.goto(`${site.url}/online`);
    await expect.poll(() => queuedCount(next), { timeout: 10_000 }).toBe(0);
    const events = site.batches.flatMap((b) => b.body.batch.map((m) => m.event));
    expect(events).toEqual(["O1", "Fn", "O2"]);
    expect(errors).toEqual([]);
    await next.close();
  });
});
