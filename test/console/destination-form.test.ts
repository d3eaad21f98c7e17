import { afterAll, describe, expect, it } from "vitest";
import { useConsole } from "./support/console-page";
import { type HookServer, startHookServer } from "./support/hook-server";

const session = useConsole();
const hooks: HookServer[] = [];
afterAll(async () => {
  for (const hook of hooks) await hook.close();
});

describe("console destination form: Test connection", () => {
  it("says Testing… and takes no second click while the vendor has not answered", async () => {
    const hook = await startHookServer(200);
    hooks.push(hook);
    const page = await session.signedIn("/console/destinations/new");
    // The test call is held until the button has been looked at: a slow vendor, without the wait.
    let answer = () => {};
    const held = new Promise<void>((resolve) => {
      answer = resolve;
    });
    await page.route("**/v1/destinations/test", async (route) => {
      await held;
      await route.continue();
    });
    await page.getByLabel("Type").selectOption("webhook");
    await page.getByLabel("URL", { exact: true }).fill(hook.url);
    await page.getByLabel("Signing secret").fill("whsec_0123456789abcdef");
    await page.getByRole("button", { name: "Test connection" }).click();

    const testing = page.getByRole("button", { name: "Testing…" });
    await testing.waitFor();
    expect(await testing.isDisabled()).toBe(true);
    answer();
    await expect.poll(() => page.getByRole("status").textContent(), { timeout: 15_000 }).toMatch(/^Connected/);
    expect(await page.getByRole("button", { name: "Test connection" }).isEnabled()).toBe(true);
    expect(hook.received.length).toBe(1);
  });
});
