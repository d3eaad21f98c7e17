import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { pageErrors, settle } from "./page-probes";
import type { Site } from "./site";

type Calls = { calls: { name: string; after: number }[] };

describe("analytics.js callbacks (the last argument of track, identify, page, group, alias)", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  it("calls track's callback once the event is delivered, so a link handler navigating in it loses nothing", async () => {
    // A long flush interval: without the callback's flush the event would wait, and only a beacon could send it.
    site.page("/links", {
      loadOptions: { flushInterval: 60_000 },
      script: `tessera.track("Link Clicked", { href: "/away" }, {}, () => { location.href = "/away"; });`,
    });
    site.page("/away", { loadOptions: { flushInterval: 60_000 } });
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/links`);
    await page.waitForURL(`${site.url}/away`, { timeout: 10_000 });
    const [delivery] = site.batches;
    expect(delivery.body.batch[0]).toMatchObject({ event: "Link Clicked", properties: { href: "/away" } });
    // Sent by the SDK's fetch before the page went, not by the page-hide beacon (no-cors).
    expect(delivery.headers["sec-fetch-mode"]).toBe("cors");
    await page.close();
  });

  it("calls each method's callback after 300 ms at the latest when the collector is slow, once, and keeps its throw", async () => {
    site.page("/slow", { loadOptions: { flushInterval: 60_000 } });
    const earlier = site.batches.length;
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    // The collector answers after 1.5 s: long after the 300 ms a callback may wait.
    await page.route("**/v1/batch", async (route) => {
      await new Promise((r) => setTimeout(r, 1500));
      await route.continue();
    });
    await page.goto(`${site.url}/slow`);
    await page.evaluate(async () => {
      const w = window as unknown as Calls & {
        tessera: Record<string, (...a: unknown[]) => void> & { ready(): Promise<void> };
      };
      await w.tessera.ready();
      w.calls = [];
      const t0 = performance.now();
      const note = (name: string) => () => w.calls.push({ name, after: performance.now() - t0 });
      w.tessera.track("Slow", {}, {}, note("track"));
      w.tessera.identify("u1", { plan: "pro" }, note("identify"));
      w.tessera.page(note("page"));
      w.tessera.group("g1", note("group"));
      w.tessera.alias("u2", note("alias"));
      w.tessera.track("Throws", () => {
        throw new Error("callback broke");
      });
    });
    // The callbacks were taken off: the calls themselves went out as usual; once they are
    // delivered, their flushes are over and no callback has run twice.
    const sent = () => site.batches.slice(earlier).flatMap((b) => b.body.batch.map((m) => m.event ?? m.type));
    await expect.poll(sent, { timeout: 10_000 }).toEqual(["Slow", "identify", "page", "group", "alias", "Throws"]);
    await settle(200);
    const calls = await page.evaluate(() => (window as unknown as Calls).calls);
    expect(calls.map((c) => c.name).sort()).toEqual(["alias", "group", "identify", "page", "track"]);
    for (const c of calls) expect(c.after).toBeGreaterThanOrEqual(250);
    for (const c of calls) expect(c.after).toBeLessThan(1200);
    expect(errors).toEqual([]);
    await page.close();
  });
});
