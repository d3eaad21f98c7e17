import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { type PageTessera, queuedCount, settle } from "./page-probes";
import type { Site } from "./site";

describe("two tabs sharing a queue", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  it("sends every event of a stored backlog once, whichever tab flushes it", async () => {
    // Build a backlog of 60 stored events while offline, then leave.
    site.page("/app", { loadOptions: { flushInterval: 200, flushAt: 5 } });
    const first = await browser.context.newPage();
    await first.goto(`${site.url}/app`);
    await browser.context.setOffline(true);
    await first.evaluate(() => {
      for (let i = 0; i < 60; i++) (window as unknown as { tessera: PageTessera }).tessera.track("Backlog", { i });
    });
    await expect.poll(() => queuedCount(first), { timeout: 10_000 }).toBe(60);
    await first.close();
    expect(site.batches).toEqual([]);
    await browser.context.setOffline(false);

    // Two tabs come up together: both replay the same stored queue and keep tracking.
    const tabs = await Promise.all([browser.context.newPage(), browser.context.newPage()]);
    await Promise.all(tabs.map((t) => t.goto(`${site.url}/app`)));
    await Promise.all(
      tabs.map((t, n) =>
        t.evaluate((n) => {
          for (let i = 0; i < 10; i++) (window as unknown as { tessera: PageTessera }).tessera.track(`Tab ${n}`, { i });
        }, n),
      ),
    );
    await expect.poll(() => new Set(site.deliveredIds()).size, { timeout: 30_000 }).toBe(80);
    await Promise.all(
      tabs.map((t) => t.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.flush())),
    );
    await settle();

    const ids = site.deliveredIds();
    expect(ids.length).toBe(80);
    expect(new Set(ids).size).toBe(80);
    expect(await queuedCount(tabs[0])).toBe(0);
  });
});
