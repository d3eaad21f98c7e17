import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../support/dev-server";
import { openBrowser } from "./chromium";

describe("the /demo page of npm run dev", () => {
  let server: DevServer;
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startDevServer(), openBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("shows a newcomer's clicks and login arriving in their profile", async () => {
    const page = await browser.context.newPage();
    const errors: Error[] = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(`${server.url}/demo`);
    await page.click("#track");
    await page.click("#track");
    await page.fill("#email", "newcomer@example.com");
    await page.click("#identify");

    const profile = page.locator("#profile");
    await expect.poll(() => profile.textContent(), { timeout: 15_000 }).toContain("newcomer@example.com");
    await expect
      .poll(() => page.locator("#events").textContent(), { timeout: 15_000 })
      .toContain("Demo Button Clicked");
    expect(await page.locator("#uid").textContent()).toBe("user-1");
    const shown = JSON.parse((await profile.textContent())!) as { event_count: number };
    expect(shown.event_count).toBe(4);
    expect(errors).toEqual([]);
  });
});
