import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sendBatch } from "../support/dev-api";
import { useConsole } from "./support/console-page";

const session = useConsole();

/**
 * Gina browses as two anonymous visitors, logs in on both (a merge), and then someone else logs in on her first
 * device (a link the user_id limit refuses: the shared-device case); she also bought 60 things.
 */
async function seedGina() {
  const tag = randomUUID().slice(0, 8);
  const [a1, a2, u1, u2, email] = [`a1-${tag}`, `a2-${tag}`, `u1-${tag}`, `u2-${tag}`, `gina-${tag}@example.com`];
  await sendBatch(session.server, [
    { type: "track", anonymousId: a1, event: "Product Viewed", properties: { sku: "X1" } },
    { type: "track", anonymousId: a2, event: "Product Viewed", properties: { sku: "X2" } },
    { type: "identify", anonymousId: a1, userId: u1, traits: { email, first_name: "Gina" } },
    { type: "identify", anonymousId: a2, userId: u1 },
    { type: "identify", anonymousId: a1, userId: u2 },
  ]);
  const start = Date.now() - 3_600_000;
  await sendBatch(
    session.server,
    Array.from({ length: 60 }, (_, i) => ({
      type: "track",
      userId: u1,
      event: i % 2 ? "Order Completed" : "Page Scrolled",
      properties: { n: i },
      timestamp: new Date(start + i * 1000).toISOString(),
    })),
  );
  return { a1, a2, u1, u2, email };
}

describe("console profiles", () => {
  it("finds a profile by email and shows its traits, identifiers and identity graph with merges and dropped links", async () => {
    const gina = await seedGina();
    const page = await session.signedIn("/console/profiles");
    await page.getByLabel("Find a profile").fill(gina.email.toUpperCase());
    await page.getByRole("button", { name: "Find" }).click();
    for (const name of ["Traits", "Computed traits", "Audiences", "Identity graph", "Events"]) {
      await page.getByRole("heading", { name, exact: true }).waitFor();
    }
    const traits = page.getByRole("region", { name: "Traits", exact: true });
    expect(await traits.textContent()).toContain("Gina");
    const graph = page.getByRole("img", { name: /Identity graph of prf_/ });
    await graph.waitFor();
    const drawn = (await graph.textContent()) ?? "";
    for (const text of [
      gina.u1,
      gina.a1,
      gina.a2,
      gina.email,
      "merged away",
      "same_message",
      "dropped: limit:user_id",
    ]) {
      expect(drawn).toContain(text);
    }
    expect(await page.locator("svg .edge-dropped path").count()).toBe(1);
    expect(await page.locator("svg .edge-merge path").count()).toBe(1);
    const journal = page.getByRole("table").filter({ hasText: "same_message" });
    expect(await journal.count()).toBe(1);
  });

  it("says when no profile matches, and finds one by user_id:… too", async () => {
    const gina = await seedGina();
    const page = await session.signedIn("/console/profiles");
    await page.getByLabel("Find a profile").fill(`nobody-${randomUUID()}@example.com`);
    await page.getByRole("button", { name: "Find" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 10_000 }).toContain("No profile matches");
    await page.getByLabel("Find a profile").fill(`user_id:${gina.u1}`);
    await page.getByRole("button", { name: "Find" }).click();
    await page.getByRole("heading", { name: "Identity graph" }).waitFor();
    expect(page.url()).toMatch(/\/console\/profiles\/prf_/);
    // A bare user id of digits is first tried as a phone (which it cannot be without a country code), then found.
    const digits = String(Date.now()).slice(-9);
    await sendBatch(session.server, [{ type: "identify", userId: digits, traits: { first_name: "Num" } }]);
    await page.getByRole("link", { name: "Profiles", exact: true }).click();
    await page.getByLabel("Find a profile").fill(digits);
    await page.getByRole("button", { name: "Find" }).click();
    await page.getByRole("heading", { name: "Identity graph" }).waitFor();
  });

  it("wraps a long trait value instead of widening the page", async () => {
    const userId = `long-${randomUUID()}`;
    await sendBatch(session.server, [{ type: "identify", userId, traits: { long: "L".repeat(1_000) } }]);
    const page = await session.signedIn(`/console/profiles/${encodeURIComponent(`user_id:${userId}`)}`);
    await page.getByRole("heading", { name: "Identity graph" }).waitFor();
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(widths[0]).toBeLessThanOrEqual(widths[1]);
  });

  it("marks the page the user is on in the navigation, as they move", async () => {
    const page = await session.signedIn("/console/profiles");
    const nav = page.getByRole("navigation", { name: "Console" });
    await expect.poll(() => nav.getByRole("link", { name: "Profiles" }).getAttribute("aria-current")).toBe("page");
    await nav.getByRole("link", { name: "Audiences" }).click();
    await expect.poll(() => nav.getByRole("link", { name: "Audiences" }).getAttribute("aria-current")).toBe("page");
    expect(await nav.getByRole("link", { name: "Profiles" }).getAttribute("aria-current")).toBeNull();
  });

  it("lists events newest first, loads more on scroll, filters by name and expands an event", async () => {
    const gina = await seedGina();
    const page = await session.signedIn(`/console/profiles/${encodeURIComponent(`user_id:${gina.u1}`)}`);
    const timeline = page.getByRole("list", { name: "Events, newest first" });
    const items = timeline.getByRole("listitem");
    await expect.poll(() => items.count(), { timeout: 10_000 }).toBe(25);
    await page.locator(".timeline-end").scrollIntoViewIfNeeded();
    await expect.poll(() => items.count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(50);
    await page.locator(".timeline-end").scrollIntoViewIfNeeded();
    await expect.poll(() => items.count(), { timeout: 10_000 }).toBe(64);
    const times = await items.locator("summary time").evaluateAll((els) => els.map((e) => e.getAttribute("datetime")));
    expect(times).toEqual([...times].sort().reverse());

    await page.getByLabel("Filter by event name").fill("Order Completed");
    await page.getByRole("button", { name: "Filter", exact: true }).click();
    // The filtered first page replaces the list; scrolled down as we are, its end may be in view at once, which loads
    // the rest by itself.
    const names = () => items.locator("summary strong").allTextContents();
    await expect.poll(async () => new Set(await names()), { timeout: 10_000 }).toEqual(new Set(["Order Completed"]));
    await page.locator(".timeline-end").scrollIntoViewIfNeeded();
    await expect.poll(() => items.count(), { timeout: 10_000 }).toBe(30);
    expect(new Set(await names())).toEqual(new Set(["Order Completed"]));

    await items.first().locator("summary").click();
    const json = await items.first().locator("pre").textContent();
    expect(JSON.parse(json ?? "{}")).toMatchObject({ event: "Order Completed", properties: { n: 59 } });
  });

  it("deletes a profile (GDPR) after confirmation, after which it cannot be found", async () => {
    const gina = await seedGina();
    const page = await session.signedIn(`/console/profiles/${encodeURIComponent(`email:${gina.email}`)}`);
    // Clicked once the sections above the button are drawn: one drawn mid-click moves the button from the pointer.
    await page.getByRole("img", { name: /Identity graph of prf_/ }).waitFor();
    await page.getByRole("button", { name: "Delete profile" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("heading", { name: "Traits", exact: true }).waitFor();
    await page.getByRole("button", { name: "Delete profile" }).click();
    // The question names the person, not only the profile id.
    expect(await dialog.getByRole("heading").textContent()).toMatch(/^Delete (.+) \(prf_\w+\) for good\?$/);
    expect(await dialog.getByRole("heading").textContent()).toContain(gina.email);
    await dialog.getByRole("button", { name: "Delete for good" }).click();
    await page.waitForURL(/\/console\/profiles\?deletion=del_\w+$/);
    // A request until its job is done (destinations delete at their vendors later): never "deleted" before then.
    await expect
      .poll(() => page.getByRole("status").first().textContent(), { timeout: 10_000 })
      .toMatch(/^(Deletion of prf_\w+ requested: pending \(|Profile prf_\w+ was deleted: every step is done\.)/);
    await page.getByLabel("Find a profile").fill(gina.email);
    await page.getByRole("button", { name: "Find" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 10_000 }).toContain("No profile matches");
  });
});

describe("console profile deletion status", () => {
  it("follows the erase job until it is done, with the reason it waits", async () => {
    const id = `del_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    let reads = 0;
    await session.context.route(`**/v1/deletions/${id}`, async (route) => {
      const done = reads++ > 0;
      const step = (name: string, finished: boolean) => ({
        name,
        status: finished ? "done" : "pending",
        done_at: finished ? "2026-12-01T10:00:00.000Z" : null,
      });
      await route.fulfill({
        json: {
          id,
          status: done ? "done" : "pending",
          profile_id: "prf_watched",
          profile_ids: ["prf_watched"],
          suppressed_identifiers: 2,
          steps: [step("graph", true), step("destinations", done)],
          attempts: done ? 1 : 0,
          last_error: done ? null : "hubspot (dst_1): the vendor answered 503",
          next_attempt_at: null,
          created_at: "2026-12-01T10:00:00.000Z",
          completed_at: done ? "2026-12-01T10:00:05.000Z" : null,
        },
      });
    });
    const page = await session.signedIn(`/console/profiles?deletion=${id}`);
    const status = page.getByRole("status").first();
    await expect
      .poll(() => status.textContent(), { timeout: 10_000 })
      .toContain("Deletion of prf_watched requested: pending (done: graph; waiting: destinations).");
    expect(await status.textContent()).toContain("Last error: hubspot (dst_1): the vendor answered 503");
    await expect
      .poll(() => status.textContent(), { timeout: 15_000 })
      .toContain("Profile prf_watched was deleted: every step is done.");
  });

  it("shows no words taken from the URL", async () => {
    const page = await session.signedIn("/console/profiles?deleted=Your%20data%20is%20safe&deletion=call%20us");
    await page.getByLabel("Find a profile").waitFor();
    expect(await page.locator("main").textContent()).not.toMatch(/Your data is safe|call us/);
  });
});
