import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { type PageTessera, queuedCount } from "./page-probes";
import type { Site } from "./site";

/** Calls made while `GET /v1/id` has not answered (idEndpoint on a device with no stored id: ITP wiped it). */
describe("calls made before the server-set id arrives", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });
  const events = () => site.batches.flatMap((b) => b.body.batch);
  /** A tab on a device with no stored id, whose /v1/id answers `anonymousId` after `ms`, or never. */
  const tab = async (answer?: { anonymousId: string; ms: number }) => {
    site.page("/blank", {});
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/blank`);
    await browser.context.clearCookies();
    await page.evaluate(async () => {
      localStorage.clear();
      await new Promise((r) => {
        const req = indexedDB.deleteDatabase("tessera:wk_id");
        req.onsuccess = req.onerror = req.onblocked = r;
      });
    });
    await page.route("**/v1/id?*", async (route) => {
      if (!answer) return; // hangs: never answered
      await new Promise((r) => setTimeout(r, answer.ms));
      await route.fulfill({ json: { anonymousId: answer.anonymousId } });
    });
    site.batches.length = 0;
    return page;
  };

  it("stores them at once and sends them although the endpoint never answers", async () => {
    site.page("/hang", {
      writeKey: "wk_id",
      loadOptions: { idEndpoint: true, flushInterval: 100 },
      script: 'tessera.track("Early");',
    });
    const page = await tab();
    await page.goto(`${site.url}/hang`);
    // In IndexedDB before any answer: a crash or a kill now loses nothing.
    await expect.poll(() => queuedCount(page, "wk_id"), { timeout: 1000 }).toBe(1);
    await expect.poll(() => events().map((m) => m.event), { timeout: 10_000 }).toEqual(["Early"]);
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.ready());
    await page.close();
  });

  it("beacons them when the visitor leaves before the answer", async () => {
    site.page("/bounce", { writeKey: "wk_id", loadOptions: { idEndpoint: true, flushInterval: 60_000 } });
    const page = await tab();
    await page.goto(`${site.url}/bounce`);
    // The page hiding (tab switched away, app backgrounded) while the request hangs; a real navigation would also
    // cancel the request, which used to replay the held calls just in time.
    await page.evaluate(() => {
      (window as unknown as { tessera: PageTessera }).tessera.track("Bounced");
      dispatchEvent(new PageTransitionEvent("pagehide"));
    });
    await expect.poll(() => events().map((m) => m.event), { timeout: 10_000 }).toEqual(["Bounced"]);
    await page.close();
  });

  it("sends them with the id the server answers, which later calls keep", async () => {
    site.page("/restore", {
      writeKey: "wk_id",
      loadOptions: { idEndpoint: true, flushInterval: 100 },
      script: 'tessera.track("Before");',
    });
    const page = await tab({ anonymousId: "id-from-the-server-cookie", ms: 500 });
    await page.goto(`${site.url}/restore`);
    await page.evaluate(async () => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      await t.ready();
      t.track("After");
    });
    await expect.poll(() => events().map((m) => m.event), { timeout: 10_000 }).toEqual(["Before", "After"]);
    expect(events().map((m) => m.anonymousId)).toEqual(["id-from-the-server-cookie", "id-from-the-server-cookie"]);
    await page.close();
  });

  it("with requireConsent, asks only once consent is granted, and the buffered calls carry the answer", async () => {
    site.page("/consent-id", {
      writeKey: "wk_id",
      loadOptions: { idEndpoint: true, requireConsent: true, flushInterval: 100 },
      script: 'tessera.track("Pending");',
    });
    const page = await tab({ anonymousId: "id-from-the-server-cookie", ms: 200 });
    const asked: string[] = [];
    page.on("request", (r) => {
      if (r.url().includes("/v1/id")) asked.push(r.url());
    });
    await page.goto(`${site.url}/consent-id`);
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.ready());
    expect(asked).toEqual([]);
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.setConsent("granted"));
    await expect.poll(() => events().map((m) => m.event), { timeout: 10_000 }).toEqual(["Pending"]);
    expect(asked.length).toBe(1);
    expect(events()[0].anonymousId).toBe("id-from-the-server-cookie");
    await page.close();
  });
});
