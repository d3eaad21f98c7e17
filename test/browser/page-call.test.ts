import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import type { Site } from "./site";

type PageMessage = { name?: string; category?: string; properties: Record<string, unknown> };

describe("page()", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  it("takes analytics.js's arguments: (category, name, properties), (name, properties), (properties)", async () => {
    site.page("/docs", {
      loadOptions: { flushInterval: 100 },
      script: `
        tessera.page("Docs", "Getting Started", { section: "intro" });
        tessera.page("Pricing", { plan: "pro" });
        tessera.page({ a: 1 });`,
    });
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/docs`);
    await expect.poll(() => site.batches.flatMap((b) => b.body.batch).length, { timeout: 10_000 }).toBe(3);
    const [docs, pricing, plain] = site.batches.flatMap((b) => b.body.batch) as unknown as PageMessage[];
    expect(docs).toMatchObject({ name: "Getting Started", category: "Docs" });
    expect(docs.properties).toEqual({
      name: "Getting Started",
      category: "Docs",
      section: "intro",
      path: "/docs",
      referrer: "",
      search: "",
      title: "Test page",
      url: `${site.url}/docs`,
    });
    expect(pricing).toMatchObject({ name: "Pricing", properties: { name: "Pricing", plan: "pro", path: "/docs" } });
    expect(pricing.category).toBeUndefined();
    expect(plain.name).toBeUndefined();
    expect(plain.properties).toMatchObject({ a: 1, path: "/docs" });
    await page.close();
  });
});
