import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { pageErrors } from "./page-probes";
import type { Site } from "./site";

describe("group() without a group id", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  // analytics.js reads the current group with group(): it sends nothing, and neither may we (no groupId "undefined").
  it("sends nothing and throws nothing, before load and after", async () => {
    site.page("/group", {
      loadOptions: { flushInterval: 100 },
      script: `tessera.group();
      tessera.ready(() => {
        tessera.group();
        tessera.group(null, { plan: "pro" });
        tessera.track("After");
      });`,
    });
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${site.url}/group`);
    await expect.poll(() => site.batches.flatMap((b) => b.body.batch).length, { timeout: 10_000 }).toBeGreaterThan(0);
    await page.evaluate(() => (window as unknown as { tessera: { flush(): Promise<void> } }).tessera.flush());
    expect(site.batches.flatMap((b) => b.body.batch.map((m) => m.event ?? m.type))).toEqual(["After"]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
