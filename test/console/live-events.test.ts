import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fetchDev } from "../support/dev-proxy";
import { useConsole } from "./support/console-page";

const session = useConsole();

/** Sends `batch` with the workspace's write key and expects it taken. */
async function sendBatch(batch: object[]): Promise<void> {
  const res = await fetchDev(`${session.env.url}/v1/batch`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${session.env.writeKey}:`).toString("base64")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ batch }),
  });
  expect(res.status).toBe(200);
}

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
          await sendBatch([
            { type: "track", event, anonymousId },
            { type: "track", anonymousId },
          ]);
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
  it("shows each message once after a pause and a resume", async () => {
    const page = await session.signedIn("/console/live");
    await page.getByText("Listening").waitFor();
    const feed = page.getByRole("list", { name: "Live events, newest first" });
    const send = (event: string) => sendBatch([{ type: "track", event, anonymousId: randomUUID() }]);
    const items = (event: string) => feed.getByRole("listitem").filter({ hasText: event }).count();
    // A warm-up sent until it shows: the collector records for the feed only once the page's first poll is watching.
    const warmUp = `Warm up ${randomUUID().slice(0, 8)}`;
    await expect
      .poll(
        async () => {
          await send(warmUp);
          return items(warmUp);
        },
        { timeout: 15_000, interval: 1000 },
      )
      .toBeGreaterThan(0);
    const before = `Before pause ${randomUUID().slice(0, 8)}`;
    await send(before);
    await feed.getByRole("listitem").filter({ hasText: before }).waitFor({ timeout: 15_000 });
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByRole("button", { name: "Resume" }).click();
    // Once a message sent after the resume shows, the feed has been read again since.
    const after = `After resume ${randomUUID().slice(0, 8)}`;
    await send(after);
    await feed.getByRole("listitem").filter({ hasText: after }).waitFor({ timeout: 15_000 });
    expect(await items(before)).toBe(1);
  });

  it("takes an erased person's messages off the open page, without a reload", async () => {
    const page = await session.signedIn("/console/live");
    await page.getByText("Listening").waitFor();
    const feed = page.getByRole("list", { name: "Live events, newest first" });
    const [jane, bob] = [`u-jane-${randomUUID().slice(0, 8)}`, `u-bob-${randomUUID().slice(0, 8)}`];
    const shown = async (userId: string) => feed.getByRole("listitem").filter({ hasText: userId }).count();
    // Sent until both show: the collector records for the feed only once the page's first poll is watching.
    await expect
      .poll(
        async () => {
          await sendBatch([
            { type: "track", event: "Viewed", userId: jane, messageId: `m-${jane}` },
            { type: "track", event: "Viewed", userId: bob, messageId: `m-${bob}` },
          ]);
          return Math.min(await shown(jane), await shown(bob));
        },
        { timeout: 15_000, interval: 1000 },
      )
      .toBeGreaterThan(0);

    const erase = await fetchDev(`${session.env.url}/v1/profiles/user_id:${jane}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${session.env.secretKey}` },
    });
    expect(erase.status).toBe(202);
    await expect.poll(() => shown(jane), { timeout: 10_000 }).toBe(0);
    expect(await shown(bob)).toBeGreaterThan(0);
  });
});
