import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { secretApi } from "../support/dev-api";
import { seriousViolations } from "./support/axe";
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

describe("console destination form: Traits sent", () => {
  it("refuses an empty or repeated name beside the field, sending nothing, and saves the names once fixed", async () => {
    const page = await session.signedIn("/console/destinations/new");
    const created: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "POST" && new URL(r.url()).pathname === "/v1/destinations") created.push(r.url());
    });
    const name = `Traits ${randomUUID().slice(0, 8)}`;
    await page.getByLabel("Type").selectOption("webhook");
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByLabel("URL", { exact: true }).fill("https://hooks.example.com/traits");
    await page.getByLabel("Signing secret").fill("whsec_0123456789abcdef");
    const traits = page.getByLabel("Traits sent (comma-separated)");
    /** What the field says of itself to assistive technology: its description, once it is marked invalid. */
    const described = () =>
      traits.evaluate((input) =>
        input.getAttribute("aria-invalid") === "true"
          ? (document.getElementById(input.getAttribute("aria-describedby") ?? "")?.textContent ?? "")
          : "",
      );
    const create = page.getByRole("button", { name: "Create destination" });

    for (const [typed, said] of [
      ["city, plan, city", '"city" is listed twice: keep it once.'],
      ["first_name,, city", "An extra comma leaves a name empty: remove it."],
    ]) {
      await traits.fill(typed);
      await create.click();
      await expect.poll(described).toContain(said);
      expect(await page.locator(".destination-form .field").filter({ has: traits }).textContent()).toContain(said);
    }
    expect(await seriousViolations(page)).toEqual([]);
    expect(created).toEqual([]);
    expect(new URL(page.url()).pathname).toBe("/console/destinations/new");

    // A name with a space is a name (`identify` may send "Loyalty Tier"), as the API takes it.
    await traits.fill("first_name, city, Loyalty Tier");
    await expect.poll(described).toBe("");
    await create.click();
    await page.waitForURL(/\/console\/destinations\/dst_/);
    const id = new URL(page.url()).pathname.split("/").pop() ?? "";
    const read = await secretApi<{ traits: string[] }>(session.server, "GET", `/v1/destinations/${id}`);
    expect(read.body.traits).toEqual(["first_name", "city", "Loyalty Tier"]);
  });
});
