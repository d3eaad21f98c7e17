import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import { type PageTessera, settle } from "./page-probes";
import type { Site } from "./site";

describe("delivery on navigation", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  it("sends an event tracked right before navigating away by beacon, once", async () => {
    // A long flush interval: only the page-hide path can deliver before the page is gone.
    site.page("/from", { loadOptions: { flushInterval: 60_000 } });
    site.page("/to", { loadOptions: { flushInterval: 100 }, title: "Next page" });
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/from`);
    // Let the load-time replay finish, so nothing else is in flight when the page goes.
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.flush());
    await page.evaluate(() => {
      (window as unknown as { tessera: PageTessera }).tessera.track("Checkout Clicked");
      location.href = "/to";
    });
    await expect.poll(() => site.batches.length, { timeout: 10_000 }).toBe(1);
    const [delivery] = site.batches;
    const messageId = delivery.body.batch[0].messageId;
    expect(delivery.body.batch[0]).toMatchObject({ event: "Checkout Clicked" });
    // A sendBeacon Blob goes out in no-cors mode and carries the page it left; the SDK's fetch() would be "cors".
    expect(delivery.headers["sec-fetch-mode"]).toBe("no-cors");
    expect(delivery.headers.referer).toBe(`${site.url}/from`);

    // The next page loads the SDK (which replays its queue) and tracks on: the event is not sent again.
    await page.waitForURL(`${site.url}/to`);
    await page.evaluate(() => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      t.track("Next");
      return t.flush();
    });
    await settle();
    expect(site.deliveredIds().filter((id) => id === messageId)).toHaveLength(1);
    await page.close();
  });
});
