import { describe, expect, it } from "vitest";
import type { DevServer } from "../support/dev-server";
import { type OpenBrowser, useDevServerAndBrowser } from "./fixtures";
import type { PageTessera } from "./page-probes";
import { readEvents, readProfile } from "./profile-api";

describe("anonymous browsing, then identify on login (against npm run dev)", () => {
  let server: DevServer;
  let browser: OpenBrowser;
  useDevServerAndBrowser((s, b) => {
    server = s;
    browser = b;
  });

  it("shows one profile holding the anonymous history and the traits", async () => {
    const page = await browser.context.newPage();
    // The dev server's demo page: the inline snippet with the dev write key.
    await page.goto(`${server.url}/demo`);
    const anonymousId = await page.evaluate(async () => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      await t.ready();
      t.track("Product Viewed", { sku: "SKU-1" });
      t.track("Added to Cart", { sku: "SKU-1" });
      await t.flush();
      const id = t.user()!.anonymousId;
      t.identify("user-browser-1", { email: "Browser.Person@Example.com", name: "Browser Person" });
      await t.flush();
      return id;
    });

    await expect
      .poll(async () => (await readProfile(server, "user_id:user-browser-1"))?.event_count, { timeout: 15_000 })
      .toBe(4);
    const profile = (await readProfile(server, "user_id:user-browser-1"))!;
    expect(profile.traits).toMatchObject({ email: "Browser.Person@Example.com", name: "Browser Person" });
    expect(profile.identifiers.map((i) => `${i.type}:${i.value}`).sort()).toEqual(
      [`anonymous_id:${anonymousId}`, "email:browser.person@example.com", "user_id:user-browser-1"].sort(),
    );
    expect((await readProfile(server, `anonymous_id:${anonymousId}`))?.id).toBe(profile.id);
    // Each batch's timestamps are corrected by its own transit (DESIGN §3: `receivedAt − (sentAt − timestamp)`), so
    // on a loaded machine the page view's batch, sent on load and answered seconds later, can date it after the
    // tracks called a few milliseconds after it: which events the profile holds is the point here, not their order.
    const names = (await readEvents(server, profile.id)).map((e) => e.event ?? e.type);
    expect(names.sort()).toEqual(["Added to Cart", "Product Viewed", "identify", "page"]);
  });
});
