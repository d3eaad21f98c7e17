import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { secretApi, sendBatch } from "../support/dev-api";
import { fetchRouted } from "../support/dev-proxy";
import { seriousViolations } from "./support/axe";
import { useConsole } from "./support/console-page";
import { type HookServer, startHookServer } from "./support/hook-server";

const session = useConsole();
const hooks: HookServer[] = [];
afterAll(async () => {
  for (const hook of hooks) await hook.close();
});

describe("console destinations", () => {
  it("tests the connection, creates a webhook destination, dead-letters refused syncs and replays them", async () => {
    const hook = await startHookServer(200);
    hooks.push(hook);
    const tag = randomUUID().slice(0, 8);
    const event = `Joined ${tag}`;
    const audience = `joiners_${tag}`;
    const created = await secretApi(session.server, "POST", "/v1/audiences", { key: audience, definition: { event } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);

    const page = await session.signedIn("/console/destinations/new");
    const name = `Hook ${tag}`;
    await page.getByLabel("Type").selectOption("webhook");
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByLabel("URL", { exact: true }).fill(hook.url);
    await page.getByLabel("Signing secret").fill("whsec_0123456789abcdef");
    await page.getByRole("checkbox", { name: audience }).check();

    hook.status = 403;
    await page.getByRole("button", { name: "Test connection" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 15_000 }).toContain("answered 403");
    hook.status = 200;
    await page.getByRole("button", { name: "Test connection" }).click();
    await expect.poll(() => page.getByRole("status").textContent(), { timeout: 15_000 }).toMatch(/^Connected/);

    hook.status = 400;
    await page.getByRole("button", { name: "Create destination" }).click();
    await page.waitForURL(/\/console\/destinations\/dst_/);
    await page.getByRole("heading", { name: "Dead letters" }).waitFor();

    await sendBatch(session.server, [{ type: "track", userId: `joiner-${tag}`, event }]);
    const replay = page.getByRole("button", { name: "Replay" });
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Refresh" }).click();
          return replay.count();
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe(1);
    expect(await page.getByRole("region", { name: "Dead letters" }).textContent()).toContain("400");
    // The error is shown with its time (nothing was delivered yet, so the only time there is the error's). The
    // status is a request of its own beside the dead letters', and may have been read just before the drain wrote.
    const status = page.getByRole("region", { name: "Status" });
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Refresh" }).click();
          return status.locator("time").count();
        },
        { timeout: 10_000, interval: 500 },
      )
      .toBe(1);
    expect(await status.textContent()).toContain("last error");

    hook.status = 200;
    await replay.click();
    // Queued again, not "replayed": one older than what was synced since would not be sent.
    await expect
      .poll(() => page.getByText(/^\d+ dead letters? queued again, sent at the vendor's pace\. /).count(), {
        timeout: 10_000,
      })
      .toBe(1);
    const delivered = page.locator(".counters div").filter({ hasText: "Delivered" }).locator("dd");
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Refresh" }).click();
          return Number(await delivered.textContent());
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBeGreaterThan(0);
    // Delivered since: the error is past, and no longer shown as the current one.
    expect(await status.textContent()).not.toContain("last error");
    // The log is its own request of the same refresh: it may be drawn a moment after the counters.
    const log = page.getByRole("region", { name: "Sync log" });
    await expect.poll(() => log.getByText("ok", { exact: true }).count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await log.getByText("fail").count()).toBeGreaterThan(0);

    await page.getByRole("link", { name: "Destinations", exact: true }).click();
    await page.getByRole("row").filter({ hasText: name }).waitFor();
  });

  it("shows the first 100 dead letters and loads the next page on demand", async () => {
    const hook = await startHookServer(400);
    hooks.push(hook);
    const tag = randomUUID().slice(0, 8);
    const event = `Refused ${tag}`;
    const audience = `refused_${tag}`;
    expect(
      (await secretApi(session.server, "POST", "/v1/audiences", { key: audience, definition: { event } })).status,
    ).toBe(201);
    const created = await secretApi<{ id: string }>(session.server, "POST", "/v1/destinations", {
      type: "webhook",
      name: `Refused ${tag}`,
      audiences: [audience],
      config: { url: hook.url, secret: "whsec_0123456789abcdef" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    const members = Array.from({ length: 101 }, (_, i) => ({ type: "track", userId: `refused-${tag}-${i}`, event }));
    await sendBatch(session.server, members);
    await expect
      .poll(
        async () =>
          (await secretApi<{ status: { dead_letters: number } }>(session.server, "GET", `/v1/destinations/${id}`)).body
            .status.dead_letters,
        { timeout: 60_000, interval: 1000 },
      )
      .toBe(101);

    const page = await session.signedIn(`/console/destinations/${id}`);
    const region = page.getByRole("region", { name: "Dead letters" });
    const rows = region.locator("tbody tr");
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(100);
    await region.getByRole("button", { name: "Load more" }).click();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(101);
    expect(await region.getByRole("button", { name: "Load more" }).count()).toBe(0);
  });

  it("removes an optional setting the user emptied, and keeps the settings left as they were", async () => {
    const tag = randomUUID().slice(0, 8);
    const created = await secretApi(session.server, "POST", "/v1/destinations", {
      type: "klaviyo",
      name: `Klaviyo ${tag}`,
      config: { api_key: "pk_test_0123456789", webhook_secret: "whsec_0123456789abcdef", revision: "2026-07-15" },
      audiences: [],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { id } = created.body as { id: string };
    const page = await session.signedIn(`/console/destinations/${id}`);
    await page.getByLabel("API revision").fill("");
    await page.getByRole("button", { name: "Save destination" }).click();
    await expect.poll(() => page.getByText("Saved.").count(), { timeout: 10_000 }).toBe(1);
    const read = await secretApi(session.server, "GET", `/v1/destinations/${id}`);
    const config = (read.body as { config: Record<string, unknown> }).config;
    expect(config).not.toHaveProperty("revision");
    // The secrets came back masked and were sent back masked: the stored ones stay.
    expect(config).toHaveProperty("api_key");
    expect(config).toHaveProperty("webhook_secret");
  });

  it("keeps what was typed and shows the API's message when a save fails", async () => {
    const page = await session.signedIn("/console/destinations/new");
    await page.getByLabel("Type").selectOption("webhook");
    await page.getByLabel("Name", { exact: true }).fill("Short secret");
    await page.getByLabel("URL", { exact: true }).fill("https://hooks.example.com/x");
    await page.getByLabel("Signing secret").fill("short");
    await page.getByRole("button", { name: "Create destination" }).click();
    await expect
      .poll(() => page.getByRole("alert").textContent(), { timeout: 10_000 })
      .toBe("Signing secret: must be a string of at least 16 characters");
    expect(await page.getByLabel("URL", { exact: true }).inputValue()).toBe("https://hooks.example.com/x");
    expect(await page.getByLabel("Signing secret").inputValue()).toBe("short");
    expect(await seriousViolations(page)).toEqual([]);
  });

  it("reconciles now after a confirmation, sending the members it never got, and shows the API's refusal", async () => {
    // A member enters before the destination exists. The destination's first fill sends it at once, and the
    // endpoint refuses it (400: dead-lettered, never synced); once the endpoint accepts again, only reconciliation
    // sends it. Its sync-queue message leaves beside its D1 row, though, and on a loaded machine it can still be in the
    // queue then, reach the destination by the normal path, and leave nothing to reconcile. Such a round must show
    // exactly that (nothing to repair, and the hook has the entry), and goes again with a new member.
    const reconciledRound = async () => {
      const hook = await startHookServer(400);
      hooks.push(hook);
      const tag = randomUUID().slice(0, 8);
      const event = `Reconciled ${tag}`;
      const audience = `reconciled_${tag}`;
      expect(
        (await secretApi(session.server, "POST", "/v1/audiences", { key: audience, definition: { event } })).status,
      ).toBe(201);
      await sendBatch(session.server, [{ type: "track", userId: `member-${tag}`, event }]);
      await expect
        .poll(
          async () => (await secretApi<{ size: number }>(session.server, "GET", `/v1/audiences/${audience}`)).body.size,
          { timeout: 30_000, interval: 500 },
        )
        .toBe(1);
      const created = await secretApi<{ id: string }>(session.server, "POST", "/v1/destinations", {
        type: "webhook",
        name: `Reconciled ${tag}`,
        audiences: [audience],
        config: { url: hook.url, secret: "whsec_0123456789abcdef" },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id = created.body.id;
      type Status = { status: { pending: number; dead_letters: number } };
      await expect
        .poll(
          async () => {
            const { status } = (await secretApi<Status>(session.server, "GET", `/v1/destinations/${id}`)).body;
            return status.dead_letters > 0 && status.pending === 0;
          },
          { timeout: 30_000, interval: 500 },
        )
        .toBe(true);
      const refused = hook.received.length;
      hook.status = 200;

      const page = await session.signedIn(`/console/destinations/${id}`);
      const dialog = page.getByRole("dialog");
      await page.getByRole("button", { name: "Reconcile now" }).click();
      expect(await dialog.getByRole("heading").textContent()).toBe(`Reconcile Reconciled ${tag} now?`);
      await dialog.getByRole("button", { name: "Cancel" }).click();
      expect(await dialog.isVisible()).toBe(false);
      const beforeConfirming = hook.received.length;

      await page.getByRole("button", { name: "Reconcile now" }).click();
      await dialog.getByRole("button", { name: "Reconcile", exact: true }).click();
      const result = page.getByText(/^Reconciled: /);
      await result.waitFor({ timeout: 15_000 });
      expect(await dialog.isVisible()).toBe(false);
      const said = (await result.textContent()) ?? "";
      if (/^Reconciled: nothing to repair/.test(said)) {
        // The queue's message reached it after the endpoint accepted again: the entry came by the normal path.
        await expect.poll(() => hook.received.length, { timeout: 30_000, interval: 500 }).toBeGreaterThan(refused);
        return null;
      }
      expect(said).toMatch(/^Reconciled: 1 repair queued/);
      // Cancelling sent nothing: what the hook gets now comes from the confirmed reconcile.
      expect(beforeConfirming).toBe(refused);
      await expect.poll(() => hook.received.length, { timeout: 30_000, interval: 500 }).toBeGreaterThan(refused);
      return { id, page, dialog };
    };
    let round: Awaited<ReturnType<typeof reconciledRound>> = null;
    for (let tries = 0; tries < 3 && round === null; tries++) round = await reconciledRound();
    if (round === null) throw new Error("three rounds in a row found the member delivered before the reconcile");
    const { id, page, dialog } = round;

    // Gone meanwhile (another tab deleted it): the dialog says what the API said and stays open. The page is read
    // afresh first: the reconcile's own refresh may still be on its way and would find the destination gone.
    await page.reload();
    await page.getByRole("button", { name: "Reconcile now" }).waitFor();
    expect((await secretApi(session.server, "DELETE", `/v1/destinations/${id}`)).status).toBe(204);
    await page.getByRole("button", { name: "Reconcile now" }).click();
    await dialog.getByRole("button", { name: "Reconcile", exact: true }).click();
    await expect
      .poll(() => dialog.getByRole("alert").textContent(), { timeout: 10_000 })
      .toBe(`No destination ${id} in this workspace`);
  });
});

describe("console destination status", () => {
  /** A Klaviyo destination (nothing is sent to a vendor to make one). */
  const makeKlaviyo = async (tag: string) => {
    const created = await secretApi<{ id: string; webhook_url: string }>(session.server, "POST", "/v1/destinations", {
      type: "klaviyo",
      name: `Klaviyo ${tag}`,
      config: { api_key: "pk_test_0123456789", webhook_secret: "whsec_0123456789abcdef" },
      audiences: [],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body;
  };
  /** Answers for destination `id` rewritten by `change` (a pause, another type), read from the API first. */
  const rewrite = async (id: string, change: (d: Record<string, unknown>) => Record<string, unknown>) => {
    await session.context.route(`**/v1/destinations/${id}`, async (route) => {
      if (route.request().method() !== "GET") return route.fallback();
      const response = await fetchRouted(route);
      await route.fulfill({ response, json: change(await response.json()) });
    });
    await session.context.route("**/v1/destinations", async (route) => {
      if (route.request().method() !== "GET") return route.fallback();
      const response = await fetchRouted(route);
      const list = (await response.json()) as { data: Array<Record<string, unknown>> };
      await route.fulfill({ response, json: { data: list.data.map((d) => (d.id === id ? change(d) : d)) } });
    });
  };

  it("says a destination is paused after the vendor refused the credentials, on its page and in the list", async () => {
    const tag = randomUUID().slice(0, 8);
    const { id } = await makeKlaviyo(tag);
    const pausedUntil = new Date(Date.now() + 15 * 60_000).toISOString();
    await rewrite(id, (d) => ({
      ...d,
      status: {
        ...(d.status as object),
        paused_until: pausedUntil,
        last_error: "Klaviyo answered 401: bad API key",
        last_error_at: new Date().toISOString(),
      },
    }));
    const page = await session.signedIn(`/console/destinations/${id}`);
    const status = page.getByRole("region", { name: "Status" });
    await expect
      .poll(() => status.textContent(), { timeout: 10_000 })
      .toMatch(
        /Paused until \S.* after the vendor refused the credentials: save new credentials or Reconcile now to try again/,
      );
    await page.getByRole("link", { name: "Destinations", exact: true }).click();
    const row = page.getByRole("row").filter({ hasText: `Klaviyo ${tag}` });
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain("paused until");
  });

  it("says a reconcile ended the pause and sends what waited, rather than that there was nothing to repair", async () => {
    const tag = randomUUID().slice(0, 8);
    const { id } = await makeKlaviyo(tag);
    const pausedUntil = new Date(Date.now() + 15 * 60_000).toISOString();
    await rewrite(id, (d) => ({ ...d, status: { ...(d.status as object), paused_until: pausedUntil } }));
    const page = await session.signedIn(`/console/destinations/${id}`);
    await page.getByText(/^Paused/).waitFor();
    await page.getByRole("button", { name: "Reconcile now" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Reconcile", exact: true }).click();
    const said = page.getByText(/^Reconciled: /);
    await said.waitFor({ timeout: 15_000 });
    expect(await said.textContent()).toBe(
      "Reconciled: the pause after the vendor refused the credentials has ended, and the changes waiting are being " +
        "sent now; nothing else to repair. If the vendor refuses the credentials again, the destination pauses again.",
    );
    expect(await seriousViolations(page)).toEqual([]);
  });

  it("masks the inbound webhook secret until revealed", async () => {
    const { id, webhook_url } = await makeKlaviyo(randomUUID().slice(0, 8));
    const secret = new URL(webhook_url).searchParams.get("secret") ?? "";
    expect(secret.length).toBeGreaterThan(8);
    const page = await session.signedIn(`/console/destinations/${id}`);
    const status = page.getByRole("region", { name: "Status" });
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toContain("Engagement webhook URL");
    expect(await page.locator("main").textContent()).not.toContain(secret);
    await page.getByRole("button", { name: "Reveal secret" }).click();
    expect(await status.textContent()).toContain(webhook_url);
  });

  it("shows no engagement URL for a type that takes no engagement back (Marketo is polled)", async () => {
    const { id } = await makeKlaviyo(randomUUID().slice(0, 8));
    await rewrite(id, (d) => ({ ...d, type: "marketo" }));
    const page = await session.signedIn(`/console/destinations/${id}`);
    await page.getByRole("heading", { name: /\(marketo\)/ }).waitFor();
    expect(await page.getByRole("region", { name: "Status" }).textContent()).not.toContain("Engagement webhook URL");
  });
});

describe("console unsaved destination edits", () => {
  it("asks before a link leaves a changed destination form", async () => {
    const page = await session.signedIn("/console/destinations/new");
    await page.getByLabel("Name", { exact: true }).fill("Half typed hook");
    const asked: string[] = [];
    page.once("dialog", (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await page.getByRole("link", { name: "Destinations", exact: true }).click();
    expect(asked).toEqual(["Leave this page? Your unsaved changes to this destination will be lost."]);
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Half typed hook");
  });
});
