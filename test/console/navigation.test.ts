import { randomUUID } from "node:crypto";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { sendBatch } from "../support/dev-api";
import { useConsole } from "./support/console-page";

const session = useConsole();

/** What has focus: its role-ish tag and text, as a screen reader would name it. */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return el ? `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}: ${(el.textContent ?? "").trim()}` : "";
  });

describe("console navigation for keyboard and screen reader users", () => {
  it("offers 'Skip to content' as the first stop, which moves focus to the main region", async () => {
    const page = await session.signedIn("/console/sources");
    await page.reload();
    await page.getByRole("heading", { name: "Sources", level: 1 }).waitFor();
    await page.keyboard.press("Tab");
    expect(await focused(page)).toBe("a: Skip to content");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe("MAIN");
    expect(await page.getByRole("main").getAttribute("id")).toBe("main");
    // The next stop is inside the page, past the header's navigation.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.querySelector("main")?.contains(document.activeElement))).toBe(true);
  });

  it("moves focus to the new page's heading after each move, and titles the tab after it", async () => {
    const userId = `nav-${randomUUID()}`;
    await sendBatch(session.server, [{ type: "identify", userId, traits: { first_name: "Nav" } }]);
    const page = await session.signedIn("/console/profiles");
    // Signed in: the form that had focus is gone, so focus starts at the page's heading.
    await expect.poll(() => focused(page)).toBe("h1: Profiles");
    expect(await page.title()).toBe("Profiles · Tessera");

    await page.getByRole("link", { name: "Audiences", exact: true }).click();
    await expect.poll(() => focused(page)).toBe("h1: Audiences");
    expect(await page.title()).toBe("Audiences · Tessera");

    await page.getByRole("link", { name: "Profiles", exact: true }).click();
    await expect.poll(() => focused(page)).toBe("h1: Profiles");
    await page.getByLabel("Find a profile").fill(`user_id:${userId}`);
    await page.getByRole("button", { name: "Find" }).click();
    // The profile page draws its heading once the profile arrives: focus and title follow it.
    await expect.poll(() => focused(page), { timeout: 10_000 }).toMatch(/^h1: Profile prf_/);
    expect(await page.title()).toMatch(/^Profile prf_\S+ · Tessera$/);
  });

  it("titles the sign-in form", async () => {
    const page = await session.context.newPage();
    await page.goto(`${session.env.url}/console/profiles`);
    await page.getByLabel("Secret key").waitFor();
    expect(await page.title()).toBe("Sign in · Tessera");
  });

  it("answers any unknown console path, however deep, with the console's own Not found page", async () => {
    for (const path of ["/console/unknown", "/console/a/b/c", "/console/profiles/x/y/z"]) {
      const res = await fetch(`${session.env.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(/^text\/html/);
      const page = await session.signedIn(path);
      await page.getByRole("heading", { name: "Not found", level: 1 }).waitFor();
      expect(await page.getByRole("main").textContent()).toContain(`No console page at ${path}`);
      await page.close();
    }
    // The build's files keep the API's JSON 404, deep or not.
    const asset = await fetch(`${session.env.url}/console/assets/a/b.js`);
    expect(asset.status).toBe(404);
    expect(await asset.json()).toMatchObject({ error: { code: "not_found" } });
  });
});
