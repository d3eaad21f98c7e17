import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, printServerLogOnFailure, startDevServer } from "../support/dev-server";
import { openBrowser } from "./chromium";
import { type Site, startSite } from "./site";

describe("server-set id cookie (idEndpoint, against the Worker's GET /v1/id)", () => {
  let server: DevServer;
  printServerLogOnFailure(() => server?.logPath);
  let site: Site;
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startDevServer(), openBrowser()]);
    site = await startSite({ idEndpointOf: server.url });
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await server?.stop();
  });

  it("brings the anonymous id back after script-written storage is wiped (Safari's 7-day purge)", async () => {
    site.page("/itp", { loadOptions: { idEndpoint: true, flushInterval: 100 }, script: 'tessera.track("Visit");' });
    const page = await browser.context.newPage();
    await page.goto(`${site.url}/itp`);
    await expect.poll(() => site.batches.length, { timeout: 10_000 }).toBe(1);
    const firstId = site.batches[0].body.batch[0].anonymousId as string;
    const serverCookie = (await browser.context.cookies()).find((c) => c.name === "tessera_id");
    expect(serverCookie).toMatchObject({ value: firstId, httpOnly: true, sameSite: "Lax" });

    // What WebKit does after 7 days without interaction: script-written cookies and storage are gone.
    await browser.context.clearCookies({ name: "tessera_anonymous_id" });
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await expect.poll(() => site.batches.length, { timeout: 10_000 }).toBe(2);

    expect(site.batches[1].body.batch[0].anonymousId).toBe(firstId);
    const restored = (await browser.context.cookies()).find((c) => c.name === "tessera_anonymous_id");
    expect(restored?.value).toBe(firstId);
  });
});
