import { randomUUID } from "node:crypto";
import type { Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { secretApi, sendBatch } from "../support/dev-api";
import { useConsole } from "./support/console-page";
import { type HookServer, startHookServer } from "./support/hook-server";

const session = useConsole();
const hooks: HookServer[] = [];
afterAll(async () => {
  for (const hook of hooks) await hook.close();
});

type LogPage = { data: Array<{ profile_id: string }> };

/** The profile ids of the log's rows as the page shows them, in order. */
const shownProfiles = (page: Page) =>
  page.getByRole("region", { name: "Sync log" }).locator("tbody tr td:nth-child(2)").allTextContents();

/**
 * A webhook destination on an audience of everyone who sent event `Logged <tag>`: its id, and its whole log's profile
 * ids as the API lists them (newest first; only `profile`'s when given).
 */
async function loggedDestination(tag: string) {
  const hook = await startHookServer(200);
  hooks.push(hook);
  const event = `Logged ${tag}`;
  const audience = `logged_${tag}`;
  expect(
    (await secretApi(session.server, "POST", "/v1/audiences", { key: audience, definition: { event } })).status,
  ).toBe(201);
  const created = await secretApi<{ id: string }>(session.server, "POST", "/v1/destinations", {
    type: "webhook",
    name: `Logged ${tag}`,
    audiences: [audience],
    config: { url: hook.url, secret: "whsec_0123456789abcdef" },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const { id } = created.body;
  const fullLog = async (profile?: string) =>
    (
      await secretApi<LogPage>(
        session.server,
        "GET",
        `/v1/destinations/${id}/log?limit=1000${profile ? `&profile=${encodeURIComponent(profile)}` : ""}`,
      )
    ).body.data.map((e) => e.profile_id);
  return { id, event, fullLog };
}

describe("console sync log", () => {
  it("shows the newest 50 entries, the older ones on demand, and one profile's entries when asked", async () => {
    const tag = randomUUID().slice(0, 8);
    const { id, event, fullLog } = await loggedDestination(tag);
    const members = Array.from({ length: 60 }, (_, i) => ({ type: "track", userId: `logged-${tag}-${i}`, event }));
    await sendBatch(session.server, members);
    // Every member sent and nothing left to send: the log no longer grows while the page is compared with it.
    const settled = async () =>
      (await secretApi<{ status: { pending: number } }>(session.server, "GET", `/v1/destinations/${id}`)).body.status
        .pending === 0 && (await fullLog()).length >= 60;
    await expect.poll(settled, { timeout: 60_000, interval: 1000 }).toBe(true);
    const all = await fullLog();

    const page = await session.signedIn(`/console/destinations/${id}`);
    const region = page.getByRole("region", { name: "Sync log" });
    await expect.poll(() => shownProfiles(page), { timeout: 10_000 }).toEqual(all.slice(0, 50));
    await region.getByRole("button", { name: "Older entries" }).click();
    await expect.poll(() => shownProfiles(page), { timeout: 10_000 }).toEqual(all);
    expect(await region.getByRole("button", { name: "Older entries" }).count()).toBe(0);

    const one = `user_id:logged-${tag}-7`;
    const ones = await fullLog(one);
    expect(ones.length).toBeGreaterThan(0);
    await region.getByLabel("Only the profile").fill(one);
    await region.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => shownProfiles(page), { timeout: 10_000 }).toEqual(ones);

    await region.getByLabel("Only the profile").fill(`user_id:nobody-${tag}`);
    await region.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => region.getByRole("alert").textContent(), { timeout: 10_000 }).toContain(`nobody-${tag}`);
    expect(await shownProfiles(page)).toEqual([]);

    await region.getByRole("button", { name: "Show every profile" }).click();
    await expect.poll(() => shownProfiles(page), { timeout: 10_000 }).toEqual(all.slice(0, 50));
  });

  it("drops an older page that answers after Refresh read the first page again", async () => {
    const tag = randomUUID().slice(0, 8);
    const { id, event, fullLog } = await loggedDestination(tag);
    const member = (i: number) => ({ type: "track", userId: `logged-${tag}-${i}`, event });
    const logged = async (entries: number) => {
      await expect
        .poll(async () => (await fullLog()).length, { timeout: 60_000, interval: 1000 })
        .toBeGreaterThanOrEqual(entries);
      return fullLog();
    };
    await sendBatch(session.server, [0, 1, 2].map(member));
    const before = await logged(3);

    // One entry a page (the console asks for 50); a page after a cursor waits until `release` while `holding`.
    let holding = true;
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    await session.context.route(`**/v1/destinations/${id}/log?*`, async (route) => {
      const url = new URL(route.request().url());
      url.searchParams.set("limit", "1");
      if (url.searchParams.has("cursor") && holding) {
        holding = false;
        await released;
      }
      await route.continue({ url: url.toString() });
    });
    const page = await session.signedIn(`/console/destinations/${id}`);
    const region = page.getByRole("region", { name: "Sync log" });
    await expect.poll(() => shownProfiles(page), { timeout: 10_000 }).toEqual(before.slice(0, 1));
    await region.getByRole("button", { name: "Older entries" }).click();
    await expect.poll(() => holding).toBe(false);

    // Meanwhile the log grows, and Refresh reads its first page again.
    await sendBatch(session.server, [member(3)]);
    await logged(4);
    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(() => shownProfiles(page), { timeout: 10_000 }).not.toEqual(before.slice(0, 1));
    const [newest] = await shownProfiles(page);
    // The older page read before Refresh is not this listing's: it holds nothing up, and nothing of it is shown.
    expect(await region.getByRole("button", { name: "Older entries" }).isEnabled()).toBe(true);
    const stale = page.waitForResponse((r) => r.url().includes("cursor="));
    release();
    await stale;
    await page.waitForTimeout(500);
    expect(await shownProfiles(page)).toEqual([newest]);
    // The next page follows the refreshed first one, not the cursor of the listing before it.
    await region.getByRole("button", { name: "Older entries" }).click();
    const log = await fullLog();
    const next = log.slice(log.indexOf(newest), log.indexOf(newest) + 2);
    await expect.poll(() => shownProfiles(page), { timeout: 10_000 }).toEqual(next);
    expect(next.length).toBe(2);
  });
});
