import { describe, expect, it } from "vitest";
import type { DevServer } from "../support/dev-server";
import { type OpenBrowser, useDevServerAndBrowser } from "./fixtures";
import { type PageTessera, queuedCount, settle } from "./page-probes";
import { readEvents } from "./profile-api";

describe("offline, reload, back online (against npm run dev)", () => {
  let server: DevServer;
  let browser: OpenBrowser;
  useDevServerAndBrowser((s, b) => {
    server = s;
    browser = b;
  });

  it("delivers exactly the 50 events tracked while the network was down", async () => {
    const page = await browser.context.newPage();
    // Chromium (150) lifts its emulated offline state for a page being left: the reload's pagehide reads
    // `navigator.onLine` true and hands the queue to a beacon, which the emulation loses, and the beacon's marks hold
    // those events back from the next page for 5 minutes (a real offline browser reads false there, and the SDK keeps
    // them). Beacons are not what this test is about (beacon-navigation.test.ts): here the browser refuses them.
    await page.addInitScript(() => {
      navigator.sendBeacon = () => false;
    });
    await page.goto(`${server.url}/demo`);
    const anonymousId = await page.evaluate(async () => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      await t.flush();
      return t.user()!.anonymousId;
    });

    // The network goes down. The page and the SDK still come from the browser's side (as from a cache or a
    // service worker) so the page can be reloaded offline; every request to the collector fails.
    const cached = new Map<string, { body: string; contentType: string }>();
    for (const path of ["/demo", "/sdk/tessera.min.js"]) {
      const res = await fetch(`${server.url}${path}`);
      cached.set(path, { body: await res.text(), contentType: res.headers.get("content-type")! });
    }
    await browser.context.route(`${server.url}/**`, (route) => {
      const hit = cached.get(new URL(route.request().url()).pathname);
      return hit ? route.fulfill({ status: 200, ...hit }) : route.abort("internetdisconnected");
    });
    await browser.context.setOffline(true);
    await page.evaluate(() => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      for (let i = 0; i < 50; i++) t.track("Offline Event", { i });
    });
    await expect.poll(() => queuedCount(page, server.writeKey), { timeout: 10_000 }).toBe(50);

    // Reloaded while still offline: the new page finds the stored queue (plus its own page call) and waits.
    await page.reload();
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.ready());
    await settle(1000);
    expect(await queuedCount(page, server.writeKey)).toBe(51);

    // The network is back: the `online` event flushes the queue.
    await browser.context.unroute(`${server.url}/**`);
    await browser.context.setOffline(false);
    await expect.poll(() => queuedCount(page, server.writeKey), { timeout: 30_000 }).toBe(0);

    await expect
      .poll(async () => (await readEvents(server, `anonymous_id:${anonymousId}`)).length, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(52);
    const events = await readEvents(server, `anonymous_id:${anonymousId}`);
    const offline = events.filter((e) => e.event === "Offline Event");
    expect(offline).toHaveLength(50);
    expect(new Set(offline.map((e) => e.messageId)).size).toBe(50);
    // Two page calls (first load, reload) and nothing else.
    expect(events.filter((e) => e.event !== "Offline Event").map((e) => e.type)).toEqual(["page", "page"]);
  });
});
