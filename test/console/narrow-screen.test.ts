import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { secretApi } from "../support/dev-api";
import { useConsole } from "./support/console-page";

const session = useConsole();

describe("console on a phone-sized screen (375 px)", () => {
  it("scrolls a wide table inside its box, not the whole page sideways", async () => {
    const created = await secretApi(session.server, "POST", "/v1/destinations", {
      type: "webhook",
      name: `Narrow ${randomUUID().slice(0, 8)}`,
      config: { url: "https://hooks.example.com/narrow", secret: "whsec_0123456789abcdef" },
      audiences: [],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const page = await session.signedIn("/console/destinations");
    await page.setViewportSize({ width: 375, height: 800 });
    await page.getByRole("table").waitFor();
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      viewport: document.documentElement.clientWidth,
      table: document.querySelector("table")?.scrollWidth ?? 0,
    }));
    // The table is wider than the screen (8 columns), and the page is not.
    expect(widths.table).toBeGreaterThan(widths.viewport);
    expect(widths.page).toBeLessThanOrEqual(widths.viewport);
  });
});
