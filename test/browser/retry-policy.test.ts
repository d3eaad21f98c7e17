import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { pageErrors, queuedCount, settle } from "./page-probes";
import type { Site } from "./site";

describe("retry policy in the browser", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  it("retries a 500, waits out a 429's Retry-After, and delivers each event exactly once", async () => {
    site.answer({ status: 500 }, { status: 429, headers: { "Retry-After": "2" } });
    site.page("/retry", { loadOptions: { flushInterval: 100 }, script: 'tessera.track("A"); tessera.track("B");' });
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${site.url}/retry`);
    await expect.poll(() => site.batches.length, { timeout: 20_000 }).toBe(3);

    expect(site.batches.map((b) => b.status)).toEqual([500, 429, 200]);
    const ids = site.batches.map((b) => b.body.batch.map((m) => m.messageId));
    expect(ids[1]).toEqual(ids[0]);
    expect(ids[2]).toEqual(ids[0]);
    // Retry-After: 2 means no retry sooner than two seconds after the 429.
    expect(site.batches[2].at - site.batches[1].at).toBeGreaterThanOrEqual(2000);

    await settle();
    expect(site.deliveredIds()).toEqual(ids[0]);
    expect(await queuedCount(page)).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("drops a batch the server rejects with 400 instead of retrying it", async () => {
    const before = site.batches.length;
    site.answer({ status: 400 });
    site.page("/bad", { loadOptions: { flushInterval: 100 }, script: 'tessera.track("Bad");' });
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/bad`);
    await expect.poll(() => site.batches.length, { timeout: 10_000 }).toBe(before + 1);
    await settle(2500);
    expect(site.batches.length).toBe(before + 1);
    expect(await queuedCount(page)).toBe(0);
    await page.close();
  });
});
