import { randomUUID } from "node:crypto";
import type { Route } from "playwright-core";
import { describe, expect, it } from "vitest";
import { secretApi } from "../support/dev-api";
import { fetchRouted } from "../support/dev-proxy";
import { useConsole } from "./support/console-page";

const session = useConsole();

/** The API's error envelope, as a read it could not serve answers it. */
const failRead = (route: Route, status: number, message: string) =>
  route.fulfill({ status, json: { error: { code: "internal", message } } });

describe("console page read again and failing", () => {
  it("keeps an audience's open edit while a building poll fails, and polls on until it is ready", async () => {
    const key = `polled_${randomUUID().slice(0, 8)}`;
    const created = await secretApi(session.server, "POST", "/v1/audiences", { key, definition: { event: key } });
    expect(created.status).toBe(201);
    // Building on the first read, the poll after it fails, then the real answers (a backfill of nothing: ready).
    let reads = 0;
    await session.context.route(`**/v1/audiences/${key}`, async (route) => {
      if (route.request().method() !== "GET") return route.fallback();
      const read = reads++;
      if (read === 1) return failRead(route, 500, "Internal error");
      const response = await fetchRouted(route);
      const body = await response.json();
      if (read === 0) body.status = { state: "building", processed: 0, total: 3 };
      await route.fulfill({ response, json: body });
    });
    const page = await session.signedIn(`/console/audiences/${key}`);
    await page.getByText("Building 0/3").waitFor();
    await page.getByRole("button", { name: "Edit definition" }).click();
    const json = page.getByLabel("Definition (JSON)");
    const typed = JSON.stringify({ event: `${key} typed` });
    await json.fill(typed);

    await page.getByText("Internal error").waitFor({ timeout: 15_000 });
    expect(await json.inputValue()).toBe(typed);
    await page.getByText("Ready", { exact: true }).waitFor({ timeout: 15_000 });
    expect(reads).toBeGreaterThan(2);
    expect(await page.getByText("Internal error").count()).toBe(0);
    expect(await json.inputValue()).toBe(typed);
  });

  it("keeps a destination's settings being typed when Refresh fails", async () => {
    const tag = randomUUID().slice(0, 8);
    const created = await secretApi<{ id: string }>(session.server, "POST", "/v1/destinations", {
      type: "webhook",
      name: `Hook ${tag}`,
      config: { url: "https://hooks.example.com/refresh", secret: "whsec_0123456789abcdef" },
      audiences: [],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    const page = await session.signedIn(`/console/destinations/${id}`);
    const settings = page.getByRole("region", { name: "Settings" });
    const name = settings.getByLabel("Name", { exact: true });
    await name.fill(`Renamed ${tag}`);

    await page.route(`**/v1/destinations/${id}`, (route) =>
      route.request().method() === "GET" ? failRead(route, 503, "Service unavailable") : route.fallback(),
    );
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByText("Service unavailable").waitFor({ timeout: 15_000 });
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toContain(`Hook ${tag}`);
    expect(await name.inputValue()).toBe(`Renamed ${tag}`);
  });
});
