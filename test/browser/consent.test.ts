import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openBrowser } from "./chromium";
import { type PageTessera, queuedCount, settle } from "./page-probes";
import { type Site, startSite } from "./site";

describe("consent gate in the browser", () => {
  let site: Site;
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  beforeEach(async () => {
    site = await startSite();
    browser = await openBrowser();
    site.page("/consent", {
      loadOptions: { requireConsent: true, flushInterval: 100 },
      script: 'tessera.page(); tessera.track("Before Consent");',
    });
  });
  afterEach(async () => {
    await browser?.close();
    await site?.close();
  });

  /** Cookies, localStorage keys and IndexedDB databases the page has. */
  const footprint = async (page: import("playwright-core").Page) => ({
    cookies: (await browser.context.cookies()).map((c) => c.name),
    localStorage: await page.evaluate(() => Object.keys(localStorage)),
    databases: await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name)),
  });

  it("stores and sends nothing while pending, then flushes the buffer when granted", async () => {
    const page = await browser.context.newPage();
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(`${site.url}/consent`);
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.ready());
    await settle();
    expect(site.batches).toEqual([]);
    expect(requests.filter((u) => u.includes("/v1/"))).toEqual([]);
    expect(await footprint(page)).toEqual({ cookies: [], localStorage: [], databases: [] });

    await page.evaluate(() =>
      (window as unknown as { tessera: PageTessera }).tessera.setConsent("granted", { analytics: true }),
    );
    await expect.poll(() => site.batches.flatMap((b) => b.body.batch).length, { timeout: 10_000 }).toBe(2);
    const [pageCall, track] = site.batches.flatMap((b) => b.body.batch) as { type: string; event?: string }[];
    expect([pageCall.type, track.event]).toEqual(["page", "Before Consent"]);
    const after = await footprint(page);
    expect(after.cookies).toContain("tessera_anonymous_id");
    expect(after.databases).toContain("tessera:wk_test");

    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.track("After Consent"));
    await expect.poll(() => site.batches.flatMap((b) => b.body.batch).length, { timeout: 10_000 }).toBe(3);
    const last = site.batches.at(-1)!.body.batch.at(-1) as unknown as { context: Record<string, unknown> };
    expect(last.context.consent).toEqual({ categoryPreferences: { analytics: true } });
  });

  it("drops buffered and later events when denied, still storing nothing", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/consent`);
    await page.evaluate(() => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      t.setConsent("denied");
      t.track("After Denial");
      return t.flush();
    });
    await settle();
    expect(site.batches).toEqual([]);
    expect(await footprint(page)).toEqual({ cookies: [], localStorage: [], databases: [] });
  });

  it("deletes what an earlier page with consent stored when a pending page is denied (QA: sent on a later grant)", async () => {
    site.answer(...Array.from({ length: 100 }, () => ({ status: 503 })));
    const earlier = await browser.context.newPage();
    await earlier.goto(`${site.url}/consent`);
    await earlier.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.setConsent("granted"));
    await expect.poll(() => queuedCount(earlier), { timeout: 10_000 }).toBe(2);
    // Offline, its pagehide sends no beacon: the events stay stored for the next page.
    await browser.context.setOffline(true);
    await earlier.close();
    await browser.context.setOffline(false);
    site.batches.length = 0;

    // The next page starts pending (memory only) and is denied; a grant later on must find nothing to send.
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/consent`);
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.setConsent("denied"));
    await expect.poll(() => queuedCount(page), { timeout: 5000 }).toBe(0);
    await page.evaluate(() => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      t.setConsent("granted");
      return t.flush();
    });
    await settle();
    expect(site.batches.flatMap((b) => b.body.batch.map((m) => m.event ?? m.type))).toEqual([]);
  });

  it("persists nothing new when consent goes back to pending, keeps what was stored, and sends it all once granted", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/consent`);
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.setConsent("granted"));
    await expect.poll(() => site.batches.flatMap((b) => b.body.batch).length, { timeout: 10_000 }).toBe(2);
    // Offline, an event stays stored: what the earlier grant allowed to be kept.
    await browser.context.setOffline(true);
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.track("Stored"));
    await expect.poll(() => queuedCount(page), { timeout: 10_000 }).toBe(1);
    /** Every cookie and localStorage value, and the number of stored events. */
    const stored = async () => ({
      cookies: (await browser.context.cookies()).map((c) => `${c.name}=${c.value}`).sort(),
      localStorage: await page.evaluate(() => ({ ...localStorage })),
      queued: await queuedCount(page),
    });
    const before = await stored();

    await page.evaluate(() => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      t.setConsent("pending");
      t.identify("bob", { plan: "pro" });
      t.track("While Pending");
      t.reset();
      t.page();
    });
    await browser.context.setOffline(false);
    await settle();
    expect(await stored()).toEqual(before);
    expect(site.batches.flatMap((b) => b.body.batch).length).toBe(2);

    const current = await page.evaluate(() => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      t.setConsent("granted");
      return t.user()!.anonymousId;
    });
    await expect
      .poll(() => site.batches.flatMap((b) => b.body.batch.map((m) => m.event ?? m.type)), { timeout: 10_000 })
      .toEqual(["page", "Before Consent", "Stored", "identify", "While Pending", "page"]);
    expect((await browser.context.cookies()).find((c) => c.name === "tessera_anonymous_id")?.value).toBe(current);
    await expect.poll(() => queuedCount(page), { timeout: 10_000 }).toBe(0);
  });

  it("removes its cookies, storage and queued events when consent is withdrawn", async () => {
    // More failures than the SDK's backoff (full jitter: a retry can follow within milliseconds) can use up here.
    site.answer(...Array.from({ length: 100 }, () => ({ status: 503 })));
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/consent`);
    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.setConsent("granted"));
    // The collector is failing, so the events stay queued in IndexedDB (however many retries a loaded machine saw).
    await expect.poll(() => site.batches.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(site.batches.every((b) => b.status === 503)).toBe(true);
    expect(await queuedCount(page)).toBe(2);
    expect((await footprint(page)).cookies).toContain("tessera_anonymous_id");

    await page.evaluate(() => (window as unknown as { tessera: PageTessera }).tessera.setConsent("denied"));
    await settle();
    expect(await queuedCount(page)).toBe(0);
    const after = await footprint(page);
    expect({ cookies: after.cookies, localStorage: after.localStorage }).toEqual({ cookies: [], localStorage: [] });
    expect(site.deliveredIds()).toEqual([]);
  });
});
