import { describe, expect, it } from "vitest";
import { useConsole } from "./support/console-page";

const session = useConsole();
const NAV = ["Profiles", "Audiences", "Computed traits", "Destinations", "Sources", "Live events"];

describe("console sign-in", () => {
  it("says a wrong key was not accepted, keeps what was typed, then signs in with the right one", async () => {
    const page = await session.context.newPage();
    await page.goto(`${session.env.url}/console`);
    const field = page.getByLabel("Secret key");
    await field.fill("sk_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await expect.poll(() => alert.textContent()).toContain("That secret key was not accepted");
    expect(await alert.textContent()).toContain("Invalid secret key");
    expect(await field.inputValue()).toBe("sk_wrong");

    await field.fill(session.env.secretKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    for (const name of NAV) await page.getByRole("link", { name, exact: true }).waitFor();
    expect(await page.evaluate(() => document.cookie)).toBe("");
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([session.env.secretKey]);
  });

  it("stays signed in across a reload of a deep link, navigates, and signs out", async () => {
    const page = await session.signedIn("/console/sources");
    await page.getByRole("heading", { name: "Sources", level: 1 }).waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "Sources", level: 1 }).waitFor();
    await page.getByRole("link", { name: "Audiences", exact: true }).click();
    await page.getByRole("heading", { name: "Audiences", level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/console/audiences");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Secret key").waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it("runs under its strict CSP without a single violation or page error", async () => {
    const page = await session.signedIn("/console/profiles");
    await page.getByLabel("Find a profile").waitFor();
    expect(session.problems).toEqual([]);
  });
});
