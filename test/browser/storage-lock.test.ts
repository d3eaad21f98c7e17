import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { pageErrors } from "./page-probes";
import type { Site } from "./site";

type PageTessera = { track(event: string): void };

describe("the flush lock in localStorage (pages without Web Locks: plain http)", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  it("does not hold the next page's flushes after a page closed in the middle of a flush", async () => {
    site.page("/app", { loadOptions: { flushInterval: 100 } });
    // localhost is a secure context, which has Web Locks: take them away, as a plain-http page has none.
    await browser.context.addInitScript(() => {
      delete (Navigator.prototype as { locks?: unknown }).locks;
    });
    const first = await browser.context.newPage();
    await first.goto(`${site.url}/app`);
    expect(await first.evaluate(() => "locks" in navigator)).toBe(false);
    // The collector takes 20 s over the first request: the page goes while it is in flight, and never hears the
    // answer (keepalive: the request outlives it).
    site.answer({ status: 200, delay: 20_000 });
    await first.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.track("Before close"));
    await expect
      .poll(() => first.evaluate(() => localStorage.getItem("tessera:wk_test")), { timeout: 10_000 })
      .toBeTruthy();
    await first.close();

    const next = await browser.context.newPage();
    const errors = pageErrors(next);
    await next.goto(`${site.url}/app`);
    const opened = Date.now();
    await next.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.track("Next page"));
    // The departed page's claim held every flush for its 30 s lease.
    const sent = () => site.batches.flatMap((b) => b.body.batch.map((m) => m.event));
    await expect.poll(sent, { timeout: 10_000 }).toContain("Next page");
    expect(Date.now() - opened).toBeLessThan(10_000);
    expect(errors).toEqual([]);
    await next.close();
  });
});
