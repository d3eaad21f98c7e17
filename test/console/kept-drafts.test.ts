import { randomUUID } from "node:crypto";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { useConsole } from "./support/console-page";

const session = useConsole();

/** The key stops working mid-session (revoked, rotated): the next API call answers 401. */
const revokeKeyMeanwhile = (page: Page) =>
  page.evaluate(() => sessionStorage.setItem("tessera.console.secretKey", "sk_revoked_meanwhile"));

async function signInAgain(page: Page) {
  const alert = page.getByRole("alert");
  await expect.poll(() => alert.textContent(), { timeout: 10_000 }).toContain("Signed out");
  expect(await alert.textContent()).toContain("what you typed are kept");
  await page.getByLabel("Secret key").fill(session.env.secretKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Profiles" }).waitFor();
}

/** Everything in the tab's session storage but the signed-in key itself. */
const storedBesidesKey = (page: Page) =>
  page.evaluate(() =>
    Object.entries(sessionStorage)
      .filter(([k]) => k !== "tessera.console.secretKey")
      .map(([, v]) => v)
      .join("\n"),
  );

describe("console work kept across a refused key", () => {
  it("returns to the audience builder with the key, name and definition typed, and saves it", async () => {
    const key = `kept_${randomUUID().slice(0, 8)}`;
    const page = await session.signedIn("/console/audiences/new");
    await page.getByLabel("Key", { exact: true }).fill(key);
    await page.getByLabel("Name", { exact: true }).fill("Kept while signed out");
    // The starter definition's own preview answered first: refused, it would sign out before the edit below (a
    // fresh-clone run kept the starter definition as the draft).
    await expect.poll(() => page.locator("p.preview").getAttribute("aria-busy"), { timeout: 10_000 }).toBe("false");
    await revokeKeyMeanwhile(page);
    const definition = { event: `Kept ${key}`, within: "30d" };
    // The live preview of the edited definition is the call the API refuses.
    await page.getByLabel("Definition (JSON)").fill(JSON.stringify(definition, null, 2));
    await signInAgain(page);

    expect(new URL(page.url()).pathname).toBe("/console/audiences/new");
    expect(await page.getByLabel("Key", { exact: true }).inputValue()).toBe(key);
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Kept while signed out");
    expect(JSON.parse(await page.getByLabel("Definition (JSON)").inputValue())).toEqual(definition);
    expect(await page.locator('fieldset[data-path="definition"]').getByLabel("Event name").inputValue()).toBe(
      definition.event,
    );
    expect(await storedBesidesKey(page)).not.toContain("sk_");

    await page.getByRole("button", { name: "Create audience" }).click();
    await page.waitForURL(`**/console/audiences/${key}`);
    // Used once: the builder opened anew starts from scratch.
    await page.getByRole("link", { name: "Audiences", exact: true }).click();
    await page.getByRole("link", { name: "New audience" }).click();
    expect(await page.getByLabel("Key", { exact: true }).inputValue()).toBe("");
  });

  it("returns to the destination form with its fields, but not the vendor secret typed into it", async () => {
    const page = await session.signedIn("/console/destinations/new");
    await page.getByLabel("Type").selectOption("webhook");
    await page.getByLabel("Name", { exact: true }).fill("Kept hook");
    await page.getByLabel("URL", { exact: true }).fill("https://hooks.example.com/kept");
    await page.getByLabel("Signing secret").fill("whsec_never_written_down");
    await page.getByLabel("Traits sent (comma-separated)").fill("first_name, city");
    await revokeKeyMeanwhile(page);
    await page.getByRole("button", { name: "Test connection" }).click();
    await signInAgain(page);

    expect(new URL(page.url()).pathname).toBe("/console/destinations/new");
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Kept hook");
    expect(await page.getByLabel("URL", { exact: true }).inputValue()).toBe("https://hooks.example.com/kept");
    expect(await page.getByLabel("Traits sent (comma-separated)").inputValue()).toBe("first_name, city");
    expect(await page.getByLabel("Signing secret").inputValue()).toBe("");
    const stored = await storedBesidesKey(page);
    expect(stored).not.toContain("whsec_");
    expect(stored).not.toContain("sk_");
  });

  it("keeps nothing after a sign-out the user asked for", async () => {
    const page = await session.signedIn("/console/audiences/new");
    await page.getByLabel("Name", { exact: true }).fill("Left behind");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Secret key").fill(session.env.secretKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Profiles" }).waitFor();
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(1);
  });
});
