import { randomUUID } from "node:crypto";
import type { MergeRecord, MergeUndone, ProfileMerges } from "@tessera/protocol";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { secretApi, sendBatch } from "../support/dev-api";
import { STEP_TIMEOUT_MS, useConsole } from "./support/console-page";

const session = useConsole();
const profilePath = (ref: string) => `/console/profiles/${encodeURIComponent(ref)}`;

/** Hal browses as two anonymous visitors and logs in on both: one merge, whose journal entry is returned. */
async function seedMerge(): Promise<{ email: string; merge: MergeRecord }> {
  const tag = randomUUID().slice(0, 8);
  const [a1, a2, u1, email] = [`a1-${tag}`, `a2-${tag}`, `u1-${tag}`, `hal-${tag}@example.com`];
  await sendBatch(session.server, [
    { type: "track", anonymousId: a1, event: "Product Viewed", properties: { sku: "X1" } },
    { type: "track", anonymousId: a2, event: "Product Viewed", properties: { sku: "X2" } },
    { type: "identify", anonymousId: a1, userId: u1, traits: { email, first_name: "Hal" } },
    { type: "identify", anonymousId: a2, userId: u1 },
  ]);
  const merges = await secretApi<ProfileMerges>(session.server, "GET", `/v1/profiles/email:${email}/merges`);
  expect(merges.status).toBe(200);
  expect(merges.body.data).toHaveLength(1);
  return { email, merge: merges.body.data[0] as MergeRecord };
}

const undoButton = (page: Page, m: MergeRecord) =>
  page.getByRole("button", { name: `Undo merge of ${m.from} into ${m.into}`, exact: true });

/**
 * Confirms in the open dialog. The API refuses an undo while the merge is still being folded (a moment after the
 * message that made it): the dialog says so and stays open, and confirming again is what a user does.
 */
async function confirmUndo(page: Page) {
  const dialog = page.getByRole("dialog");
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    await dialog.getByRole("button", { name: "Split them again" }).click();
    await expect
      .poll(async () => (await dialog.isVisible()) === false || (await dialog.getByRole("alert").count()) > 0)
      .toBe(true);
    if (!(await dialog.isVisible())) return;
    const said = (await dialog.getByRole("alert").textContent()) ?? "";
    if (!said.includes("still being folded") || Date.now() > deadline) throw new Error(`undo refused: ${said}`);
    await page.waitForTimeout(500);
  }
}

describe("console merge undo", () => {
  it("undoes a merge from the survivor's page once confirmed: the entry reads undone and no longer offers undo", async () => {
    const { merge } = await seedMerge();
    const page = await session.signedIn(profilePath(merge.into));
    await page.getByRole("img", { name: `Identity graph of ${merge.into}` }).waitFor();
    expect(await page.getByRole("button", { name: "Undo merge" }).count()).toBe(1);

    await undoButton(page, merge).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.getByRole("heading").textContent()).toBe(`Undo the merge of ${merge.from} into ${merge.into}?`);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await undoButton(page, merge).count()).toBe(1);

    await undoButton(page, merge).click();
    await confirmUndo(page);
    const note = page.getByRole("status").filter({ hasText: "Merge undone" });
    await expect
      .poll(() => note.textContent(), { timeout: 10_000 })
      .toContain(`${merge.from} is its own profile again`);
    expect(await note.textContent()).toContain(`${merge.into} keeps the rest`);
    const journal = page.getByRole("table").filter({ hasText: merge.rule });
    await expect.poll(() => journal.textContent(), { timeout: 10_000 }).toContain("(undone");
    expect(await undoButton(page, merge).count()).toBe(0);
    expect(await page.locator("svg .edge-undone path").count()).toBe(1);
    expect(await page.locator("svg .edge-merge path").count()).toBe(0);

    const after = await secretApi<ProfileMerges>(session.server, "GET", `/v1/profiles/${merge.into}/merges`);
    expect(after.body.data[0]?.undone_at).not.toBeNull();
  });

  it("opened by the merged-away profile's id, shows that profile on its own after the undo, linking the survivor", async () => {
    const { merge } = await seedMerge();
    const page = await session.signedIn(profilePath(merge.from));
    // Before the undo the merged-away id leads to the survivor.
    await page.getByRole("img", { name: `Identity graph of ${merge.into}` }).waitFor();
    await undoButton(page, merge).click();
    await confirmUndo(page);

    await page.getByRole("heading", { level: 1, name: `Profile ${merge.from}` }).waitFor({ timeout: 10_000 });
    await page.getByRole("img", { name: `Identity graph of ${merge.from}` }).waitFor();
    // Its own journal has no merge into it: nothing is left to undo here, and the note names where the rest went.
    expect(await page.getByRole("button", { name: "Undo merge" }).count()).toBe(0);
    const note = page.getByRole("status").filter({ hasText: "Merge undone" });
    await note.getByRole("link", { name: merge.into }).click();
    await page.getByRole("heading", { level: 1, name: `Profile ${merge.into}` }).waitFor();
    await expect
      .poll(() => page.getByRole("table").filter({ hasText: merge.rule }).textContent(), { timeout: 10_000 })
      .toContain("(undone");
  });

  it("shows the API's refusal in the dialog when the merge was undone meanwhile", async () => {
    const { merge } = await seedMerge();
    const page = await session.signedIn(profilePath(merge.into));
    await page.getByRole("img", { name: `Identity graph of ${merge.into}` }).waitFor();
    await expect
      .poll(async () => (await secretApi<MergeUndone>(session.server, "POST", `/v1/merges/${merge.id}/undo`)).status, {
        timeout: STEP_TIMEOUT_MS,
        interval: 500,
      })
      .toBe(200);

    await undoButton(page, merge).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Split them again" }).click();
    await expect
      .poll(() => dialog.getByRole("alert").textContent(), { timeout: 10_000 })
      .toContain(`Merge ${merge.id} was already undone`);
    expect(await dialog.isVisible()).toBe(true);
  });
});
