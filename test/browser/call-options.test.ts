import { describe, expect, it } from "vitest";
import { type OpenBrowser, useSiteAndBrowser } from "./fixtures";
import type { Site } from "./site";

describe("analytics.js call options in the page", () => {
  let site: Site;
  let browser: OpenBrowser;
  useSiteAndBrowser((s, b) => {
    site = s;
    browser = b;
  });

  it("sends integrations, the caller's ids and timestamp, and other keys in context", async () => {
    site.page("/options", {
      loadOptions: { flushInterval: 100 },
      script: `tessera.track("Opts", {}, {
        integrations: { All: false, Mixpanel: true },
        anonymousId: "override-anon",
        messageId: "mid-1",
        timestamp: "2024-05-01T10:00:00Z",
        ip: "1.2.3.4",
      });
      tessera.identify("u1", { plan: "pro" }, { traits: { email: "a@x.io" }, timestamp: "not a date" });`,
    });
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/options`);
    await expect.poll(() => site.batches.flatMap((b) => b.body.batch).length, { timeout: 10_000 }).toBe(2);
    const [track, identify] = site.batches.flatMap((b) => b.body.batch);
    expect(track).toMatchObject({
      event: "Opts",
      integrations: { All: false, Mixpanel: true },
      anonymousId: "override-anon",
      messageId: "mid-1",
      timestamp: "2024-05-01T10:00:00.000Z",
      context: { ip: "1.2.3.4", page: { path: "/options" } },
    });
    // An unreadable timestamp loses nothing: the event goes with the time of the call.
    expect(identify).toMatchObject({ userId: "u1", traits: { plan: "pro" }, context: { traits: { email: "a@x.io" } } });
    expect(Math.abs(Date.parse(identify.timestamp as string) - Date.now())).toBeLessThan(60_000);
    await page.close();
  });
});
