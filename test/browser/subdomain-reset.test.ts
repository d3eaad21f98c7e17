import { readFileSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBrowser } from "./chromium";
import type { PageTessera } from "./page-probes";

const DIST = path.join(import.meta.dirname, "../../packages/browser/dist");

/**
 * Two subdomains of one site share the id cookies (Domain=shop.test) but each has its own localStorage mirror.
 * Chromium resolves no such names, so the pages, the SDK and the collector are all answered by request routing.
 */
describe("reset() across subdomains", () => {
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  beforeAll(async () => {
    browser = await openBrowser();
    const snippet = readFileSync(path.join(DIST, "snippet.min.js"), "utf8");
    const sdk = readFileSync(path.join(DIST, "tessera.min.js"), "utf8");
    await browser.context.route("http://*.shop.test/**", (route) => {
      const url = new URL(route.request().url());
      if (url.pathname === "/v1/batch") return route.fulfill({ json: { success: true } });
      if (url.pathname === "/sdk/tessera.min.js") return route.fulfill({ body: sdk, contentType: "text/javascript" });
      return route.fulfill({
        contentType: "text/html",
        body: `<!doctype html><script>${snippet}
tessera.load("wk_test", ${JSON.stringify({ apiHost: url.origin })});</script>`,
      });
    });
  });
  afterAll(() => browser?.close());

  const userId = (page: Page) =>
    page.evaluate(async () => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      await t.ready();
      return t.user()!.userId;
    });

  it("is not undone by another subdomain's localStorage copy of the user id", async () => {
    const a = await browser.context.newPage();
    await a.goto("http://a.shop.test/");
    await a.evaluate(async () => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      await t.ready();
      t.identify("alice");
    });
    const b = await browser.context.newPage();
    await b.goto("http://b.shop.test/");
    // b sees alice through the shared cookie and mirrors her into its own localStorage.
    expect(await userId(b)).toBe("alice");
    expect(await b.evaluate(() => localStorage.getItem("tessera_user_id"))).toBe("alice");

    await a.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.reset());
    await b.reload();
    expect(await userId(b)).toBeNull();
    await a.reload();
    expect(await userId(a)).toBeNull();
  });

  it("merges no subdomain's traits of one person into whoever the shared cookie names later", async () => {
    // Fresh subdomains: their localStorage (traits) is their own, the id cookie the one shared with a and b.
    const c = await browser.context.newPage();
    const d = await browser.context.newPage();
    /** Identifies on a fresh load of `page`; returns the traits the identify call sent and those kept after it. */
    const identify = async (page: Page, id: string, traits: object) => {
      await page.reload();
      return page.evaluate(
        async ([id, traits]) => {
          type Sdk = PageTessera & { use(p: { stage: string; run(m: { traits: object }): object }): void };
          const t = (window as unknown as { tessera: Sdk }).tessera;
          await t.ready();
          let sent: object | undefined;
          t.use({
            stage: "after",
            run: (m) => {
              sent = m.traits;
              return m;
            },
          });
          t.identify(id as string, traits as object);
          return [sent, (t.user() as unknown as { traits: object }).traits];
        },
        [id, traits],
      );
    };
    await c.goto("http://c.shop.test/");
    await d.goto("http://d.shop.test/");
    await identify(d, "alice", { email: "alice@example.com" });
    await identify(c, "bob", { plan: "pro" });
    // d still holds Alice's traits in its localStorage; the cookie now names Bob, then (reset on c) no one.
    expect(await identify(d, "bob", { seats: 3 })).toEqual([{ seats: 3 }, { seats: 3 }]);
    await c.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.reset());
    expect(await identify(d, "carol", { name: "Carol" })).toEqual([{ name: "Carol" }, { name: "Carol" }]);
  });
});
