import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { seriousViolations } from "./support/axe";
import { useConsole } from "./support/console-page";

const session = useConsole();

/**
 * Closes `page` as the browser's close button or a reload does, running `beforeunload`: what the browser asked
 * ("beforeunload" when it asked), declining to leave. A page that did not ask is closed by then.
 */
async function closeAsked(page: Page): Promise<string[]> {
  const asked: string[] = [];
  const answered = new Promise<void>((resolve) => {
    page.once("dialog", (dialog) => {
      asked.push(dialog.type());
      void dialog.dismiss().then(resolve);
    });
    page.once("close", () => resolve());
  });
  await page.close({ runBeforeUnload: true });
  await answered;
  return asked;
}

describe("console unsaved edits and leaving the page", () => {
  for (const [form, path] of [
    ["audience builder", "/console/audiences/new"],
    ["destination form", "/console/destinations/new"],
  ]) {
    it(`has the browser ask before a reload or close loses the ${form}'s unsaved edits, and only then`, async () => {
      // Untouched (clicked, so the browser would let the page ask): closing asks nothing.
      const clean = await session.signedIn(path);
      await clean.getByLabel("Name", { exact: true }).click();
      expect(await closeAsked(clean)).toEqual([]);
      expect(clean.isClosed()).toBe(true);

      const page = await session.signedIn(path);
      await page.getByLabel("Name", { exact: true }).click();
      await page.getByLabel("Name", { exact: true }).fill("Half typed");
      expect(await seriousViolations(page)).toEqual([]);
      expect(await closeAsked(page)).toEqual(["beforeunload"]);
      // Declined: the page and what was typed stay.
      expect(page.isClosed()).toBe(false);
      expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Half typed");

      // Typed back as it was: nothing to lose, nothing asked — once the form has taken the edit in (the guard is put
      // away after the render; a close in the same instant, which no person manages, can still meet it: each ask is
      // declined, so the page stays until one close goes through unasked).
      await page.getByLabel("Name", { exact: true }).fill("");
      await expect.poll(() => closeAsked(page), { timeout: 10_000 }).toEqual([]);
    });
  }
});
