import { describe, expect, it } from "vitest";
import type { DevServer } from "../support/dev-server";
import { type OpenBrowser, useDevServerAndBrowser } from "./fixtures";

describe("the /demo page of npm run dev", () => {
  let server: DevServer;
  let browser: OpenBrowser;
  useDevServerAndBrowser((s, b) => {
    server = s;
    browser = b;
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
