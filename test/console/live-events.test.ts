import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useConsole } from "./support/console-page";

const session = useConsole();

describe("console live events", () => {
  it("shows incoming messages as they arrive, and rejected ones with their reason", async () => {
    const page = await session.signedIn("/console/live");
    await page.getByText("Listening").waitFor();
    const event = `Live ${randomUUID().slice(0, 8)}`;
    const anonymousId = randomUUID();
    // Sent until it shows: the first request of a watcher may race the page's first poll of the feed.
    const feed = page.getByRole("list", { name: "Live events, newest first" });
    await expect
      .poll(
        async () => {
          await fetch(`${session.env.url}/v1/batch`, {
            method: "POST",
            headers: {
              authorization: `Basic ${Buffer.from(`${session.env.writeKey}:`).toString("base64")}`,
              "content-type": "application/json",
            },
            body: JSON.stringify({
              batch: [
                { type: "track", event, anonymousId },
                { type: "track", anonymousId },
              ],
            }),
          });
          return feed.getByText(event).count();
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBeGreaterThan(0);
    const rejected = feed.getByRole("listitem").filter({ hasText: "Rejected" }).filter({ hasText: anonymousId });
    expect(await rejected.first().textContent()).toMatch(/event/);
    const accepted = feed.getByRole("listitem").filter({ hasText: event }).first();
    expect(await accepted.textContent()).toContain("Accepted");
    await accepted.locator("summary").click();
    expect(JSON.parse((await accepted.locator("pre").textContent()) ?? "{}")).toMatchObject({ event, anonymousId });
  });
});
