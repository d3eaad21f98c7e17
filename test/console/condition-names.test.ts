import type { Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { seriousViolations } from "./support/axe";
import { useConsole } from "./support/console-page";

const session = useConsole();

const json = (page: Page) => page.getByLabel("Definition (JSON)");

/** The accessible names of the condition form's buttons, selects and groups, as Chromium computes them. */
async function controlNames(form: Locator): Promise<string[]> {
  const names: string[] = [];
  for (const role of ["button", "combobox", "group"] as const) {
    for (const control of await form.getByRole(role).all()) {
      const snapshot = await control.ariaSnapshot();
      // The first line: `- button "Remove condition 1"`.
      names.push(/^- \w+ "([^"]*)"/.exec(snapshot)?.[1] ?? "");
    }
  }
  return names;
}

describe("console condition builder names", () => {
  it("names each condition's controls by its position, uniquely, never by a JSON path", async () => {
    const page = await session.signedIn("/console/audiences/new");
    await json(page).fill(
      JSON.stringify({
        all: [
          {
            any: [
              { trait: "plan", op: "eq", value: "pro" },
              {
                event: "Signed Up",
                where: [
                  { property: "plan", op: "eq", value: "pro" },
                  { property: "channel", op: "eq", value: "web" },
                ],
              },
            ],
          },
          { not: { event: "Email Opened", within: "60d" } },
        ],
      }),
    );
    const form = page.getByRole("region", { name: "Condition form" });
    await form.getByRole("button", { name: "Remove condition 2 of group 1", exact: true }).waitFor();
    for (const [role, name] of [
      ["combobox", "Top-level group"],
      ["combobox", "Group 1"],
      ["combobox", "Add a condition to the top-level group"],
      ["combobox", "Add a condition to group 1"],
      ["button", "Remove condition 1"],
      ["button", "Remove condition 2"],
      ["button", "Remove condition 1 of group 1"],
      ["button", "Remove condition 2 of group 1"],
      ["button", "Remove property filter 1 of condition 2 of group 1"],
      ["button", "Remove property filter 2 of condition 2 of group 1"],
      ["button", "Add property filter to condition 2 of group 1"],
      ["button", "Add property filter to condition 2"],
      ["group", "Property filter 2 of condition 2 of group 1"],
    ] as const) {
      expect(await form.getByRole(role, { name, exact: true }).count(), `${role} ${name}`).toBe(1);
    }
    const names = await controlNames(form);
    expect(names.filter((n) => /definition|\[\d+\]/.test(n))).toEqual([]);
    const named = names.filter((n) => /^(Remove|Add|Group|Top-level|Property filter)/.test(n));
    expect(named.length).toBeGreaterThanOrEqual(13);
    expect(new Set(named).size).toBe(named.length);
    // The number heard is the number seen beside the condition.
    expect(await page.locator('fieldset[data-path="definition.all[0].any[1]"] > legend').textContent()).toMatch(
      /^1\.2/,
    );
    expect(await seriousViolations(page)).toEqual([]);

    // Removing the first condition of the group renumbers the one after it.
    await form.getByRole("button", { name: "Remove condition 1 of group 1", exact: true }).click();
    expect(JSON.parse(await json(page).inputValue()).all[0].any).toHaveLength(1);
    await form.getByRole("button", { name: "Remove property filter 2 of condition 1 of group 1", exact: true }).click();
    expect(JSON.parse(await json(page).inputValue()).all[0].any[0].where).toEqual([
      { property: "plan", op: "eq", value: "pro" },
    ]);
    expect(await form.getByRole("button", { name: "Remove condition 2 of group 1" }).count()).toBe(0);
  });

  it("names and removes a computed trait's property filters by their number", async () => {
    const page = await session.signedIn("/console/computed-traits/new");
    const form = page.getByRole("region", { name: "Condition form" });
    await form.getByRole("button", { name: "Add property filter" }).click();
    await form
      .getByRole("group", { name: "Property filter 1" })
      .getByLabel("Property", { exact: true })
      .fill("channel");
    await form.getByRole("button", { name: "Add property filter" }).click();
    await form.getByRole("group", { name: "Property filter 2" }).getByLabel("Property", { exact: true }).fill("plan");
    await form.getByRole("button", { name: "Remove property filter 1", exact: true }).click();
    expect(JSON.parse(await json(page).inputValue()).where.map((w: { property: string }) => w.property)).toEqual([
      "plan",
    ]);
    expect(await form.getByRole("button", { name: "Remove property filter 2" }).count()).toBe(0);
  });
});
