import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../support/dev-server";
import { type OpenBrowser, useDevServerAndBrowser } from "./fixtures";
import { readEvents, readProfile } from "./profile-api";

/** The RudderStack browser SDK as package.json pins it, in the build a page includes with a script tag. */
const RUDDERSTACK_SDK = readFileSync(
  path.join(import.meta.dirname, "../../node_modules/@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js"),
  "utf8",
);

/**
 * A page of a customer's site that loads the SDK pointed at `dataPlaneUrl`, in beacon mode, tracking page unloads.
 * The source configuration is given inline (`getSourceConfig`), so the SDK asks RudderStack's control plane nothing.
 */
function shopPage(writeKey: string, dataPlaneUrl: string): string {
  const loadOptions = {
    useBeacon: true,
    autoTrack: { pageLifecycle: { enabled: true } },
    polyfillIfRequired: false,
  };
  return `<!doctype html><title>Shop</title><script src="/rudderstack.js"></script><script>
    window.rudder = new rudderanalytics.RudderAnalytics();
    window.rudder.load(${JSON.stringify(writeKey)}, ${JSON.stringify(dataPlaneUrl)}, {
      ...${JSON.stringify(loadOptions)},
      getSourceConfig: () => ({ source: { id: "shop", name: "Shop", config: {}, destinations: [] } }),
    });
    window.rudderReady = new Promise((resolve) => window.rudder.ready(resolve));
  </script>`;
}

/** The customer's site: its own origin (another port), serving `html` at every path and the SDK script. */
async function startShop(html: () => string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const script = req.url === "/rudderstack.js";
    res.writeHead(200, { "content-type": script ? "text/javascript" : "text/html" });
    res.end(script ? RUDDERSTACK_SDK : html());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

interface PageRudder {
  rudder: {
    page(): void;
    track(event: string, properties?: Record<string, unknown>): void;
    identify(userId: string, traits?: Record<string, unknown>): void;
    getAnonymousId(): string;
  };
  rudderReady: Promise<void>;
}

describe("RudderStack's browser SDK in beacon mode (against npm run dev)", () => {
  let server: DevServer;
  let browser: OpenBrowser;
  let shop: { url: string; server: Server };
  useDevServerAndBrowser((s, b) => {
    server = s;
    browser = b;
  });
  beforeAll(async () => {
    shop = await startShop(() => shopPage(server.writeKey, server.url));
  });
  afterAll(() => new Promise<void>((resolve) => shop?.server.close(() => resolve())));

  it("delivers the events it beacons when the page is left, its Page Unloaded event too, to the profile", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${shop.url}/pricing`);
    const anonymousId = await page.evaluate(async () => {
      const w = window as unknown as PageRudder;
      await w.rudderReady;
      w.rudder.page();
      w.rudder.track("Plan Chosen", { plan: "pro" });
      w.rudder.identify("rs-beacon-user", { email: "beacon.person@example.com" });
      return w.rudder.getAnonymousId();
    });
    // Beacon mode holds events until its queue fills or the page is left: leaving sends them, with Page Unloaded.
    await page.goto(`${shop.url}/checkout`);

    await expect
      .poll(async () => (await readProfile(server, "user_id:rs-beacon-user"))?.event_count, { timeout: 20_000 })
      .toBe(4);
    const profile = (await readProfile(server, "user_id:rs-beacon-user"))!;
    expect(profile.traits).toMatchObject({ email: "beacon.person@example.com" });
    expect((await readProfile(server, `anonymous_id:${anonymousId}`))?.id).toBe(profile.id);
    const names = (await readEvents(server, profile.id)).map((e) => e.event ?? e.type);
    expect(names.sort()).toEqual(["Page Unloaded", "Plan Chosen", "identify", "page"]);
    // They came by the SDK's beacon path, not its XHR one (/v1/batch): sent while the page unloads, a beacon is not
    // among the page's requests Playwright reports, but the Worker's log names every request.
    const posts = readFileSync(server.logPath, "utf8").match(/POST \S*\/v1\/\S+ \d+/g);
    expect(new Set(posts)).toEqual(new Set(["POST /beacon/v1/batch 200"]));
    await page.close();
  });
});
