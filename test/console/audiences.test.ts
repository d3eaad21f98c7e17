import { randomUUID } from "node:crypto";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { secretApi, sendBatch } from "../support/dev-api";
import { fetchRouted } from "../support/dev-proxy";
import { seriousViolations } from "./support/axe";
import { useConsole } from "./support/console-page";

const session = useConsole();

/** Three buyers of a product only this test sells: one of them bought twice. */
async function seedBuyers() {
  const event = `Bought ${randomUUID().slice(0, 8)}`;
  const users = [0, 1, 2].map(() => `buyer-${randomUUID()}`);
  await sendBatch(session.server, [
    ...users.map((userId) => ({ type: "track", userId, event, properties: { channel: "pos" } })),
    { type: "track", userId: users[0], event, properties: { channel: "pos" } },
  ]);
  return { event, users };
}

const preview = (page: Page) => page.locator(".preview");
const json = (page: Page) => page.getByLabel("Definition (JSON)");

describe("console audience builder", () => {
  it("keeps the form and the JSON view in sync, and previews the count live", async () => {
    const { event } = await seedBuyers();
    const page = await session.signedIn("/console/audiences/new");
    await json(page).fill(JSON.stringify({ event }));
    const node = page.locator('fieldset[data-path="definition"]');
    expect(await node.getByLabel("Event name").inputValue()).toBe(event);
    await expect
      .poll(() => preview(page).textContent(), { timeout: 15_000 })
      .toBe("Preview: 3 profiles would be in this audience now");
    await node.getByLabel("Times").fill("2");
    expect(JSON.parse(await json(page).inputValue())).toEqual({ event, count: { op: "gte", value: 2 } });
    await expect
      .poll(() => preview(page).textContent(), { timeout: 15_000 })
      .toBe("Preview: 1 profile would be in this audience now");
  });

  it("shows a validation error at the condition it names, and saves once fixed, losing nothing typed", async () => {
    const { event } = await seedBuyers();
    const page = await session.signedIn("/console/audiences/new");
    await page.getByLabel("Key", { exact: true }).fill("Not A Key");
    await page.getByLabel("Name", { exact: true }).fill("Store buyers");
    const nested = page.locator('fieldset[data-path="definition.all[1].not"]');
    await nested.getByLabel("Within").fill("60x");
    await expect
      .poll(() => nested.getByRole("alert").textContent(), { timeout: 15_000 })
      .toBe('Within (condition 2): "60x" is not a duration');
    expect(await page.locator('fieldset[data-path="definition.all[0]"]').getByRole("alert").count()).toBe(0);
    await nested.getByLabel("Within").fill("60d");
    await page.locator('fieldset[data-path="definition.all[0]"]').getByLabel("Event name").fill(event);
    await expect.poll(() => preview(page).textContent(), { timeout: 15_000 }).toMatch(/^Preview: 3 profiles/);

    await page.getByRole("button", { name: "Create audience" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 10_000 }).toMatch(/^Key: must be a key/);
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Store buyers");
    expect(JSON.parse(await json(page).inputValue()).all[1].not.within).toBe("60d");

    const key = `store_buyers_${randomUUID().slice(0, 8)}`;
    await page.getByLabel("Key", { exact: true }).fill(key);
    await page.getByRole("button", { name: "Create audience" }).click();
    await page.waitForURL(`**/console/audiences/${key}`);
    await page.getByRole("heading", { name: "Members" }).waitFor();
    await expect
      .poll(
        async () => {
          await page.reload();
          await page.getByRole("heading", { name: "Members" }).waitFor();
          return page.getByRole("link", { name: /^prf_/ }).count();
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe(3);

    await page.getByRole("link", { name: "Audiences", exact: true }).click();
    const row = page.getByRole("row").filter({ hasText: key });
    await row.waitFor();
    const cells = await row.getByRole("cell").allTextContents();
    expect(cells.slice(1, 4)).toEqual(["Store buyers", "3", "Ready"]);
  });
});

describe("console condition values", () => {
  it("keeps a filter's value as typed, and compares it as a number only when asked", async () => {
    const page = await session.signedIn("/console/audiences/new");
    const where = page.locator('[data-path="definition.all[0].where[0]"]');
    const value = where.getByLabel("Value", { exact: true });
    const saved = async () => JSON.parse(await json(page).inputValue()).all[0].where[0].value;
    for (const typed of ["0042", "true", "42"]) {
      await value.fill(typed);
      expect(await value.inputValue()).toBe(typed);
      expect(await saved()).toBe(typed);
    }
    await where.getByLabel("Compare as").selectOption("number");
    await value.fill("42.0");
    expect(await value.inputValue()).toBe("42.0");
    expect(await saved()).toBe(42);
  });

  it("compares as a number once an ordering operator is chosen, so `gte 100` means the number", async () => {
    const page = await session.signedIn("/console/audiences/new");
    const where = page.locator('[data-path="definition.all[0].where[0]"]');
    const value = where.getByLabel("Value", { exact: true });
    const saved = async () => JSON.parse(await json(page).inputValue()).all[0].where[0].value;
    await value.fill("100");
    expect(await saved()).toBe("100");
    await where.getByLabel("Operator").selectOption("gte");
    // The switch follows the operator's render: polled, not read at once.
    await expect.poll(() => where.getByLabel("Compare as").inputValue()).toBe("number");
    await expect.poll(saved).toBe(100);
  });
});

describe("console definition page", () => {
  it("reads a building audience again until it is ready, without a reload", async () => {
    const key = `building_${randomUUID().slice(0, 8)}`;
    const created = await secretApi(session.server, "POST", "/v1/audiences", { key, definition: { event: key } });
    expect(created.status).toBe(201);
    // The first read finds it building (a real backfill of nothing ends before the page could see it).
    let reads = 0;
    await session.context.route(`**/v1/audiences/${key}`, async (route) => {
      const response = await fetchRouted(route);
      const body = await response.json();
      if (reads++ === 0) body.status = { state: "building", processed: 0, total: 3 };
      await route.fulfill({ response, json: body });
    });
    const page = await session.signedIn(`/console/audiences/${key}`);
    await page.getByText("Building 0/3").waitFor();
    await page.getByText("Ready", { exact: true }).waitFor({ timeout: 15_000 });
    expect(reads).toBeGreaterThan(1);
  });
});

describe("console computed traits", () => {
  it("builds a computed trait with a preview and lists it with its size", async () => {
    const { event } = await seedBuyers();
    const page = await session.signedIn("/console/computed-traits/new");
    const key = `purchases_${randomUUID().slice(0, 8)}`;
    await page.getByLabel("Key", { exact: true }).fill(key);
    const form = page.locator('fieldset[data-path="definition"]');
    await form.getByLabel("Operation").selectOption("count");
    await form.getByLabel("Event name").fill(event);
    await form.getByLabel("Property").fill("");
    await form.getByLabel("Within").fill("");
    expect(JSON.parse(await json(page).inputValue())).toEqual({ op: "count", event });
    await expect.poll(() => preview(page).textContent(), { timeout: 15_000 }).toMatch(/^Preview: 3 profiles/);
    await page.getByRole("button", { name: "Create computed trait" }).click();
    await page.waitForURL(`**/console/computed-traits/${key}`);
    await page.getByRole("link", { name: "Computed traits", exact: true }).click();
    await page.getByRole("row").filter({ hasText: key }).waitFor();
  });
});

describe("console definition edit", () => {
  it("clears a name emptied in the edit form", async () => {
    const key = `named_${randomUUID().slice(0, 8)}`;
    const definition = { event: `Seen ${key}` };
    const created = await secretApi(session.server, "POST", "/v1/audiences", { key, name: "Named", definition });
    expect(created.status).toBe(201);
    const page = await session.signedIn(`/console/audiences/${key}`);
    await page.getByRole("button", { name: "Edit definition" }).click();
    await page.getByLabel("Name", { exact: true }).fill("");
    await page.getByRole("button", { name: "Save audience" }).click();
    await page.getByRole("button", { name: "Edit definition" }).waitFor();
    const saved = await secretApi<{ name: string | null }>(session.server, "GET", `/v1/audiences/${key}`);
    expect(saved.body.name).toBeNull();
  });
});

describe("console definition edit: JSON view", () => {
  it("refuses to save while the JSON view does not parse, saying so at the button and keeping the text", async () => {
    const key = `unparsed_${randomUUID().slice(0, 8)}`;
    expect((await secretApi(session.server, "POST", "/v1/audiences", { key, definition: { event: "A" } })).status).toBe(
      201,
    );
    const page = await session.signedIn(`/console/audiences/${key}`);
    const sent: string[] = [];
    page.on("request", (r) => {
      if (r.method() !== "GET" && new URL(r.url()).pathname === `/v1/audiences/${key}`) sent.push(r.method());
    });
    await page.getByRole("button", { name: "Edit definition" }).click();
    // A definition that parses, then one with a trailing comma: the builder's definition is still the first.
    await json(page).fill(JSON.stringify({ event: "B" }));
    const typed = '{"event": "Checkout Completed", "within": "30d",}';
    await json(page).fill(typed);
    await page.getByRole("button", { name: "Save audience" }).click();

    const refusal = page.locator("form.builder > p[role=alert]");
    await expect.poll(() => refusal.textContent(), { timeout: 10_000 }).toMatch(/^Not saved: JSON view: /);
    expect(await json(page).inputValue()).toBe(typed);
    expect(sent).toEqual([]);
    const stored = await secretApi<{ version: number; definition: object }>(
      session.server,
      "GET",
      `/v1/audiences/${key}`,
    );
    expect(stored.body).toMatchObject({ version: 1, definition: { event: "A" } });

    // Fixed, the note goes and the save goes through.
    await json(page).fill('{"event": "Checkout Completed", "within": "30d"}');
    expect(await refusal.count()).toBe(0);
    await page.getByRole("button", { name: "Save audience" }).click();
    await page.getByRole("button", { name: "Edit definition" }).waitFor();
    const saved = await secretApi<{ definition: object }>(session.server, "GET", `/v1/audiences/${key}`);
    expect(saved.body.definition).toEqual({ event: "Checkout Completed", within: "30d" });
  });
});

describe("console definition members", () => {
  it("loads the next page of members once on a double click", async () => {
    const { event } = await seedBuyers();
    const key = `paged_${randomUUID().slice(0, 8)}`;
    expect((await secretApi(session.server, "POST", "/v1/audiences", { key, definition: { event } })).status).toBe(201);
    await expect
      .poll(
        async () =>
          (await secretApi<{ size: number; status: { state: string } }>(session.server, "GET", `/v1/audiences/${key}`))
            .body,
        { timeout: 30_000, interval: 500 },
      )
      .toMatchObject({ size: 3, status: { state: "ready" } });
    // One member a page (the console asks for 50), so three real members make three pages.
    const nextPages: string[] = [];
    await session.context.route(`**/v1/audiences/${key}/members?*`, async (route) => {
      const url = new URL(route.request().url());
      url.searchParams.set("limit", "1");
      const cursor = url.searchParams.get("cursor");
      if (cursor !== null) nextPages.push(cursor);
      await route.continue({ url: url.toString() });
    });
    const page = await session.signedIn(`/console/audiences/${key}`);
    const members = page.getByRole("region", { name: "Members" });
    await members.getByRole("link", { name: /^prf_/ }).first().waitFor();
    await members.getByRole("button", { name: "Load more members" }).dblclick();
    await expect.poll(() => members.getByRole("link", { name: /^prf_/ }).count(), { timeout: 10_000 }).toBe(2);
    await members.getByRole("button", { name: "Load more members" }).click();
    await expect.poll(() => members.getByRole("button").count(), { timeout: 10_000 }).toBe(0);
    const shown = await members.getByRole("link", { name: /^prf_/ }).allTextContents();
    expect(new Set(shown).size).toBe(3);
    expect(shown.length).toBe(3);
    expect(nextPages.length).toBe(2);
  });
});

describe("console definition delete", () => {
  it("asks first, shows the API's refusal while another audience refers to it, and deletes once it is free", async () => {
    const tag = randomUUID().slice(0, 8);
    const base = `base_${tag}`;
    const referrer = `refers_${tag}`;
    const create = (key: string, definition: object) =>
      secretApi(session.server, "POST", "/v1/audiences", { key, definition });
    expect((await create(base, { event: `Seen ${tag}` })).status).toBe(201);
    expect((await create(referrer, { audience: base })).status).toBe(201);

    const page = await session.signedIn(`/console/audiences/${base}`);
    const dialog = page.getByRole("dialog");
    await page.getByRole("button", { name: "Delete audience" }).click();
    expect(await dialog.getByRole("heading").textContent()).toBe(`Delete audience ${base}?`);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect((await secretApi(session.server, "GET", `/v1/audiences/${base}`)).status).toBe(200);

    await page.getByRole("button", { name: "Delete audience" }).click();
    await dialog.getByRole("button", { name: "Delete for good" }).click();
    await expect
      .poll(() => dialog.getByRole("alert").textContent(), { timeout: 10_000 })
      .toBe(`Audience "${referrer}" refers to audience "${base}": change or delete "${referrer}" first`);
    expect((await secretApi(session.server, "GET", `/v1/audiences/${base}`)).status).toBe(200);
    await dialog.getByRole("button", { name: "Cancel" }).click();

    for (const key of [referrer, base]) {
      await page.goto(`${session.env.url}/console/audiences/${key}`);
      await page.getByRole("button", { name: "Delete audience" }).click();
      await dialog.getByRole("button", { name: "Delete for good" }).click();
      // Deleted (the page moved on), or the dialog's refusal: a failure then says what the API answered.
      const deleted = new RegExp(`/console/audiences\\?deleted=${key}$`);
      const outcome = async () =>
        deleted.test(page.url())
          ? "deleted"
          : await dialog
              .getByRole("alert")
              .textContent({ timeout: 100 })
              .catch(() => "still deleting");
      await expect.poll(outcome, { timeout: 30_000 }).toBe("deleted");
      await page.getByText(`Deleted audience ${key}.`).waitFor();
      expect((await secretApi(session.server, "GET", `/v1/audiences/${key}`)).status).toBe(404);
    }
    await expect.poll(() => page.getByText("Loading audiences").count(), { timeout: 10_000 }).toBe(0);
    expect(await page.getByRole("row").filter({ hasText: tag }).count()).toBe(0);
  });

  it("deletes a computed trait from its page", async () => {
    const key = `visits_${randomUUID().slice(0, 8)}`;
    const created = await secretApi(session.server, "POST", "/v1/computed-traits", {
      key,
      definition: { op: "count", event: "Visited" },
    });
    expect(created.status).toBe(201);
    const page = await session.signedIn(`/console/computed-traits/${key}`);
    await page.getByRole("button", { name: "Delete computed trait" }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.textContent()).toContain("Every profile loses its value.");
    await dialog.getByRole("button", { name: "Delete for good" }).click();
    // The delete queues the rebuild before it answers: on a loaded machine the local queue broker can take its time.
    await page.getByText(`Deleted computed trait ${key}.`).waitFor({ timeout: 60_000 });
    expect((await secretApi(session.server, "GET", `/v1/computed-traits/${key}`)).status).toBe(404);
  });
});

describe("console deletion note", () => {
  it("puts no words from the URL in the lists' note: a crafted link, or a deletion this tab did not do, says nothing", async () => {
    const key = `gone_${randomUUID().slice(0, 8)}`;
    expect((await secretApi(session.server, "POST", "/v1/audiences", { key, definition: { event: key } })).status).toBe(
      201,
    );
    expect((await secretApi(session.server, "DELETE", `/v1/audiences/${key}`)).status).toBe(204);
    const page = await session.signedIn("/console/audiences?deleted=Your%20account%20is%20locked");
    await page.getByRole("heading", { name: "Audiences", level: 1 }).waitFor();
    await expect.poll(() => page.getByText("Loading audiences").count(), { timeout: 10_000 }).toBe(0);
    expect(await page.locator("main").textContent()).not.toContain("locked");
    for (const path of [`/console/audiences?deleted=${key}`, "/console/computed-traits?deleted=Call%20us%20now"]) {
      await page.goto(`${session.env.url}${path}`);
      await page.getByRole("heading", { level: 1 }).waitFor();
      await expect.poll(() => page.locator("main").textContent(), { timeout: 10_000 }).not.toContain("Loading");
      expect(await page.locator("main").textContent()).not.toContain("Deleted");
    }
    expect(await seriousViolations(page)).toEqual([]);
  });
});

describe("console unsaved definition edits", () => {
  it("asks before a link leaves a changed builder, and stays when declined", async () => {
    const page = await session.signedIn("/console/audiences/new");
    await page.getByLabel("Name", { exact: true }).fill("Half typed");
    const asked: string[] = [];
    page.once("dialog", (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await page.getByRole("link", { name: "Audiences", exact: true }).click();
    expect(asked).toEqual(["Leave this page? Your unsaved changes to this audience will be lost."]);
    expect(new URL(page.url()).pathname).toBe("/console/audiences/new");
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Half typed");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("link", { name: "Audiences", exact: true }).click();
    await page.waitForURL(/\/console\/audiences$/);
  });

  it("asks before Back leaves a changed builder, and stays when declined", async () => {
    const page = await session.signedIn("/console/audiences");
    await page.getByRole("link", { name: "New audience" }).click();
    await page.waitForURL(/\/console\/audiences\/new$/);
    await page.getByLabel("Name", { exact: true }).fill("Half typed");
    const asked: string[] = [];
    page.once("dialog", (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goBack();
    await expect
      .poll(() => asked, { timeout: 10_000 })
      .toEqual(["Leave this page? Your unsaved changes to this audience will be lost."]);
    await expect.poll(() => new URL(page.url()).pathname, { timeout: 10_000 }).toBe("/console/audiences/new");
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Half typed");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.goBack();
    await page.waitForURL(/\/console\/audiences$/);
    await page.getByRole("heading", { name: "Audiences", level: 1 }).waitFor();
  });

  it("leaves an audience's edit with Cancel, keeping the saved definition", async () => {
    const key = `cancelled_${randomUUID().slice(0, 8)}`;
    const definition = { event: `Seen ${key}` };
    expect((await secretApi(session.server, "POST", "/v1/audiences", { key, definition })).status).toBe(201);
    const page = await session.signedIn(`/console/audiences/${key}`);
    await page.getByRole("button", { name: "Edit definition" }).click();
    await json(page).fill(JSON.stringify({ event: "Something else" }));
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("button", { name: "Edit definition" }).waitFor();
    expect(await page.locator("pre.json").first().textContent()).toContain(`Seen ${key}`);
  });
});
