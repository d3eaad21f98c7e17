import { describe, expect, it } from "vitest";
import type { DevServer } from "../support/dev-server";
import { type OpenBrowser, useDevServerAndBrowser } from "./fixtures";
import type { PageTessera } from "./page-probes";
import { readEvents, readProfile } from "./profile-api";

describe("reset() on a shared device (against npm run dev)", () => {
  let server: DevServer;
  let browser: OpenBrowser;
  useDevServerAndBrowser((s, b) => {
    server = s;
    browser = b;
  });

  it("rotates the anonymous id so the next visitor gets a new profile", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/demo`);
    const [before, after] = await page.evaluate(async () => {
      const t = (window as unknown as { tessera: PageTessera }).tessera;
      await t.ready();
      t.identify("user-reset-1", { email: "first@example.com" });
      t.track("First Visitor Event");
      await t.flush();
      const first = t.user()!.anonymousId;
      t.reset();
      t.track("Second Visitor Event");
      await t.flush();
      return [first, t.user()!.anonymousId];
    });
    expect(after).not.toBe(before);
    const cookie = (await browser.context.cookies()).find((c) => c.name === "tessera_anonymous_id");
    expect(cookie?.value).toBe(after);

    await expect.poll(() => readProfile(server, `anonymous_id:${after}`), { timeout: 15_000 }).toBeDefined();
    const first = (await readProfile(server, "user_id:user-reset-1"))!;
    const second = (await readProfile(server, `anonymous_id:${after}`))!;
    expect(second.id).not.toBe(first.id);
    expect(second.identifiers.map((i) => `${i.type}:${i.value}`)).toEqual([`anonymous_id:${after}`]);
    expect(second.traits).toEqual({});
    expect((await readEvents(server, second.id)).map((e) => e.event ?? e.type)).toEqual(["Second Visitor Event"]);
    expect((await readEvents(server, first.id)).map((e) => e.event ?? e.type)).toContain("First Visitor Event");
  });
});
