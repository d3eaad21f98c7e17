import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { secretApi, sendBatch } from "../support/dev-api";
import { useConsole } from "./support/console-page";

const session = useConsole();
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/** axe-core's serious and critical findings on the page as it is now (injected over CDP: the CSP stays strict). */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: Violation[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

describe("console accessibility (axe-core)", () => {
  it("has no serious or critical violations on the sign-in form", async () => {
    const page = await session.context.newPage();
    await page.goto(`${session.env.url}/console`);
    await page.getByLabel("Secret key").waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });

  it("has no serious or critical violations on any main page", async () => {
    const userId = `a11y-${randomUUID()}`;
    await sendBatch(session.server, [
      { type: "identify", userId, anonymousId: randomUUID(), traits: { email: `${userId}@example.com` } },
      { type: "track", userId, event: "Order Completed", properties: { total: 12 } },
    ]);
    const audience = `a11y_${randomUUID().slice(0, 8)}`;
    const created = await secretApi(session.server, "POST", "/v1/audiences", {
      key: audience,
      definition: { event: "Order Completed" },
    });
    expect(created.status).toBe(201);
    const page = await session.signedIn("/console/profiles");
    const pages: Array<[string, string]> = [
      ["/console/profiles", "Find a profile"],
      [`/console/profiles/${encodeURIComponent(`user_id:${userId}`)}`, "Identity graph"],
      ["/console/audiences", "New audience"],
      ["/console/audiences/new", "Definition (JSON)"],
      [`/console/audiences/${audience}`, "Delete audience"],
      ["/console/computed-traits/new", "Definition (JSON)"],
      ["/console/destinations", "New destination"],
      ["/console/destinations/new", "Test connection"],
      ["/console/sources", "Snippet"],
      ["/console/live", "Listening"],
    ];
    const found: Record<string, string[]> = {};
    for (const [path, ready] of pages) {
      await page.goto(`${session.env.url}${path}`);
      await page.getByText(ready).first().waitFor();
      const violations = await seriousViolations(page);
      if (violations.length > 0) found[path] = violations;
    }
    expect(found).toEqual({});
  });
});
