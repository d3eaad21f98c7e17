import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { secretApi, sendBatch } from "../support/dev-api";
import { seriousViolations } from "./support/axe";
import { useConsole } from "./support/console-page";

const session = useConsole();

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
    const destination = await secretApi<{ id: string }>(session.server, "POST", "/v1/destinations", {
      type: "klaviyo",
      name: `A11y ${audience}`,
      config: { api_key: "pk_test_0123456789" },
      audiences: [audience],
    });
    expect(destination.status).toBe(201);
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
      [`/console/destinations/${destination.body.id}`, "Delete destination"],
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
