import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { secretApi, sendBatch } from "../support/dev-api";
import { useConsole } from "./support/console-page";
import { type HookServer, startHookServer } from "./support/hook-server";

const session = useConsole();
const hooks: HookServer[] = [];
afterAll(async () => {
  for (const hook of hooks) await hook.close();
});

describe("console destinations", () => {
  it("tests the connection, creates a webhook destination, dead-letters refused syncs and replays them", async () => {
    const hook = await startHookServer(200);
    hooks.push(hook);
    const tag = randomUUID().slice(0, 8);
    const event = `Joined ${tag}`;
    const audience = `joiners_${tag}`;
    const created = await secretApi(session.server, "POST", "/v1/audiences", { key: audience, definition: { event } });
    expect(created.status).toBe(201);

    const page = await session.signedIn("/console/destinations/new");
    const name = `Hook ${tag}`;
    await page.getByLabel("Type").selectOption("webhook");
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByLabel("URL", { exact: true }).fill(hook.url);
    await page.getByLabel("Signing secret").fill("whsec_0123456789abcdef");
    await page.getByRole("checkbox", { name: audience }).check();

    hook.status = 403;
    await page.getByRole("button", { name: "Test connection" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 15_000 }).toContain("answered 403");
    hook.status = 200;
    await page.getByRole("button", { name: "Test connection" }).click();
    await expect.poll(() => page.getByRole("status").textContent(), { timeout: 15_000 }).toMatch(/^Connected/);

    hook.status = 400;
    await page.getByRole("button", { name: "Create destination" }).click();
    await page.waitForURL(/\/console\/destinations\/dst_/);
    await page.getByRole("heading", { name: "Dead letters" }).waitFor();

    await sendBatch(session.server, [{ type: "track", userId: `joiner-${tag}`, event }]);
    const replay = page.getByRole("button", { name: "Replay" });
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Refresh" }).click();
          return replay.count();
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe(1);
    expect(await page.getByRole("region", { name: "Dead letters" }).textContent()).toContain("400");

    hook.status = 200;
    await replay.click();
    await expect.poll(() => page.getByText(/^Replayed \d+ dead letter/).count(), { timeout: 10_000 }).toBe(1);
    const delivered = page.locator(".counters div").filter({ hasText: "Delivered" }).locator("dd");
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Refresh" }).click();
          return Number(await delivered.textContent());
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBeGreaterThan(0);
    const log = page.getByRole("region", { name: "Sync log" });
    expect(await log.getByText("fail").count()).toBeGreaterThan(0);
    expect(await log.getByText("ok", { exact: true }).count()).toBeGreaterThan(0);

    await page.getByRole("link", { name: "Destinations", exact: true }).click();
    await page.getByRole("row").filter({ hasText: name }).waitFor();
  });

  it("keeps what was typed and shows the API's message when a save fails", async () => {
    const page = await session.signedIn("/console/destinations/new");
    await page.getByLabel("Type").selectOption("webhook");
    await page.getByLabel("Name", { exact: true }).fill("Short secret");
    await page.getByLabel("URL", { exact: true }).fill("https://hooks.example.com/x");
    await page.getByLabel("Signing secret").fill("short");
    await page.getByRole("button", { name: "Create destination" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 10_000 }).toContain("config.secret");
    expect(await page.getByLabel("URL", { exact: true }).inputValue()).toBe("https://hooks.example.com/x");
    expect(await page.getByLabel("Signing secret").inputValue()).toBe("short");
  });
});
