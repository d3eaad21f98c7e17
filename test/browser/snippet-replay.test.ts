import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { pageErrors } from "./page-probes";
import type { Site } from "./site";

describe("inline snippet", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  it("delivers calls made before the bundle loads, in order, with the page of the moment they were made", async () => {
    site.scriptDelay = 1500;
    site.page("/shop", {
      title: "Shop",
      loadOptions: { flushInterval: 200 },
      script: `
        window.stubbed = Array.isArray(tessera);
        tessera.track("First", { n: 1 });
        history.pushState({}, "", "/shop/item?sku=42");
        document.title = "Item 42";
        tessera.track("Second", { n: 2 });
        tessera.identify("u-snippet", { plan: "pro" });`,
    });
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/shop?utm_campaign=spring&gclid=abc`);
    expect(await page.evaluate(() => (window as unknown as { stubbed: boolean }).stubbed)).toBe(true);
    await expect.poll(() => site.batches.flatMap((b) => b.body.batch).length, { timeout: 15_000 }).toBe(3);

    const [first, second, identify] = site.batches.flatMap((b) => b.body.batch) as unknown as {
      type: string;
      event?: string;
      userId?: string;
      context: { page: Record<string, string>; campaign?: Record<string, string> };
    }[];
    expect([first.event, second.event, identify.type]).toEqual(["First", "Second", "identify"]);
    expect(first.context.page).toMatchObject({
      path: "/shop",
      search: "?utm_campaign=spring&gclid=abc",
      title: "Shop",
    });
    expect(first.context.campaign).toEqual({ name: "spring", gclid: "abc" });
    expect(second.context.page).toMatchObject({ path: "/shop/item", search: "?sku=42", title: "Item 42" });
    expect(second.context.page.url).toBe(`${site.url}/shop/item?sku=42`);
    expect(identify.userId).toBe("u-snippet");
    // The bundle took over the global and the snippet's guard stays set.
    expect(await page.evaluate(() => Array.isArray((window as unknown as { tessera: unknown }).tessera))).toBe(false);
    await page.close();
  });

  it("promises ready() and flush() before the bundle loads, and answers user(), throwing nothing into the page", async () => {
    site.scriptDelay = 1500;
    site.page("/early", {
      script: `
        window.order = [];
        tessera.ready().then(() => order.push("ready"));
        tessera.flush().then(() => order.push("flushed"));
        window.before = tessera.user();`,
    });
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${site.url}/early`);
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { order: string[] }).order), { timeout: 10_000 })
      .toEqual(["ready", "flushed"]);
    expect(await page.evaluate(() => "before" in window && (window as { before?: unknown }).before)).toBeUndefined();
    expect(errors).toEqual([]);
    await page.close();
  });

  it("leaves the #fragment out of a buffered page call's url, in its properties as in its context", async () => {
    site.scriptDelay = 1500;
    site.batches.length = 0;
    site.page("/docs", { loadOptions: { flushInterval: 100 }, script: "tessera.page();" });
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/docs#install`);
    await expect.poll(() => site.batches.length, { timeout: 10_000 }).toBe(1);
    const [call] = site.batches[0].body.batch as unknown as {
      properties: { url: string };
      context: { page: { url: string } };
    }[];
    expect([call.properties.url, call.context.page.url]).toEqual([`${site.url}/docs`, `${site.url}/docs`]);
    await page.close();
  });

  it("guards against being included twice", async () => {
    site.scriptDelay = 0;
    site.page("/twice", { script: "window.second = 0;" });
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(`${site.url}/twice`);
    await page.evaluate(() => {
      // The same snippet again, as a CMS might paste it twice.
      const s = document.createElement("script");
      s.textContent = (document.head.querySelector("script") as HTMLScriptElement).textContent!.split("\n")[0];
      document.head.appendChild(s);
    });
    expect(errors.some((e) => e.includes("included twice"))).toBe(true);
    await page.close();
  });
});
