import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { type PageTessera, settle } from "./page-probes";
import type { Site } from "./site";

describe("SPA history tracking", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  it("sends one page call per pushState that changes the URL and none for replaceState", async () => {
    site.page("/app", { loadOptions: { trackHistory: true, flushInterval: 100 }, script: "tessera.page();" });
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/app`);
    await page.evaluate(async () => {
      await (window as unknown as { tessera: PageTessera }).tessera.ready();
      history.pushState({}, "", "/app/one");
      for (let i = 0; i < 5; i++) history.replaceState({ scroll: i }, "", "/app/one?tab=2");
      history.pushState({}, "", "/app/two");
      history.pushState({}, "", "/app/two"); // same URL: no page
      history.pushState({}, "", "/app/two#section"); // hash only: no page
      history.replaceState({}, "", "/app/three");
    });
    await settle();
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.flush());

    const pages = site.batches.flatMap((b) => b.body.batch).filter((m) => m.type === "page") as unknown as {
      properties: { path: string; referrer: string };
    }[];
    expect(pages.map((p) => p.properties.path)).toEqual(["/app", "/app/one", "/app/two"]);
    // The referrer of an in-app navigation is the in-app URL it left.
    expect(pages[1].properties.referrer).toBe(`${site.url}/app`);
    expect(pages[2].properties.referrer).toBe(`${site.url}/app/one?tab=2`);
  });
});
