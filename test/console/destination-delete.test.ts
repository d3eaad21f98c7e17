import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { secretApi } from "../support/dev-api";
import { seriousViolations } from "./support/axe";
import { useConsole } from "./support/console-page";

const session = useConsole();

describe("console destination deletion", () => {
  it("deletes a destination after a confirmation that says what stops and what stays, then lists it gone", async () => {
    const tag = randomUUID().slice(0, 8);
    const audience = `deleted_dst_${tag}`;
    expect(
      (await secretApi(session.server, "POST", "/v1/audiences", { key: audience, definition: { event: tag } })).status,
    ).toBe(201);
    const name = `Klaviyo ${tag}`;
    const created = await secretApi<{ id: string }>(session.server, "POST", "/v1/destinations", {
      type: "klaviyo",
      name,
      config: { api_key: "pk_test_0123456789" },
      audiences: [audience],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { id } = created.body;
    const read = async () => (await secretApi(session.server, "GET", `/v1/destinations/${id}`)).status;

    const page = await session.signedIn(`/console/destinations/${id}`);
    const dialog = page.getByRole("dialog");
    await page.getByRole("button", { name: "Delete destination" }).click();
    expect(await dialog.getByRole("heading").textContent()).toBe(`Delete destination ${name}?`);
    const said = (await dialog.textContent()) ?? "";
    expect(said).toContain(`Its audiences (${audience}) are no longer synced to ${name}`);
    expect(said).toContain("Nothing is removed in Klaviyo");
    expect(await seriousViolations(page)).toEqual([]);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await dialog.isVisible()).toBe(false);
    expect(await read()).toBe(200);

    await page.getByRole("button", { name: "Delete destination" }).click();
    await dialog.getByRole("button", { name: "Delete for good" }).click();
    await page.waitForURL(`**/console/destinations?deleted=${id}`);
    await page.getByRole("heading", { name: "Destinations", level: 1 }).waitFor();
    // The note by its text: the page's other live regions may still be on screen for a moment.
    const note = page.getByRole("status").filter({ hasText: /^Deleted destination / });
    await expect
      .poll(() => note.textContent(), { timeout: 10_000 })
      .toMatch(new RegExp(`^Deleted destination ${name}: `));
    expect(await read()).toBe(404);
    // The list, read after the deletion, no longer has it.
    await page.getByRole("table").or(page.getByText("No destinations yet.")).first().waitFor();
    expect(await page.getByRole("link", { name, exact: true }).count()).toBe(0);
  });

  it("puts no words from the URL in its note: a crafted link says nothing", async () => {
    const page = await session.signedIn("/console/destinations?deleted=Your%20account%20is%20locked");
    await page.getByRole("heading", { name: "Destinations", level: 1 }).waitFor();
    await page.getByRole("table").or(page.getByText("No destinations yet.")).first().waitFor();
    expect(await page.locator("main").textContent()).not.toContain("locked");
  });
});
