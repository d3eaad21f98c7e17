import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fetchDev } from "../support/dev-proxy";
import { pollUntil } from "../support/poll-until";
import { STEP_TIMEOUT_MS, useConsole } from "./support/console-page";

const session = useConsole();

function track(writeKey: string): Promise<number> {
  return fetchDev(`${session.env.url}/v1/track`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ event: "Key Checked", anonymousId: randomUUID() }),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  }).then((r) => r.status);
}

describe("console sources", () => {
  it("adds a source with its key and snippet, rotates the key, and revokes the old one", async () => {
    const page = await session.signedIn("/console/sources");
    const name = `site-${randomUUID().slice(0, 8)}`;
    await page.getByLabel("Source name").fill(name);
    await page.getByRole("button", { name: "Add source" }).click();
    const newKey = page.getByTestId("new-write-key");
    await expect.poll(() => newKey.textContent(), { timeout: 10_000 }).toMatch(/^wk_/);
    const first = (await newKey.textContent()) ?? "";
    const snippet = await page.getByLabel(`Snippet for ${name}`).inputValue();
    expect(snippet).toContain(
      `tessera.load(${JSON.stringify(first)}, { apiHost: ${JSON.stringify(session.env.url)} })`,
    );
    expect(await track(first)).toBe(200);

    await page.getByRole("button", { name: `Rotate key of ${name}` }).click();
    await expect.poll(() => newKey.textContent(), { timeout: 10_000 }).not.toBe(first);
    const second = (await newKey.textContent()) ?? "";
    expect(await page.getByLabel(`Snippet for ${name}`).inputValue()).toContain(second);
    const row = page.getByRole("row").filter({ hasText: name });
    await expect.poll(() => row.getByText("live").count(), { timeout: 10_000 }).toBe(2);

    await page.getByRole("button", { name: `Revoke old keys of ${name}` }).click();
    await expect
      .poll(() => page.getByRole("status").textContent(), { timeout: 10_000 })
      .toBe(`Revoked 1 key of ${name}.`);
    await expect.poll(() => row.getByText("revoked").count(), { timeout: 10_000 }).toBe(1);
    await pollUntil(
      () => track(first),
      (status) => status === 401,
      { within: 10_000, every: 200 },
    );
    expect(await track(second)).toBe(200);
  });

  it("revokes every key of a source after confirmation", async () => {
    const page = await session.signedIn("/console/sources");
    const name = `leak-${randomUUID().slice(0, 8)}`;
    await page.getByLabel("Source name").fill(name);
    await page.getByRole("button", { name: "Add source" }).click();
    await expect.poll(() => page.getByTestId("new-write-key").textContent(), { timeout: 10_000 }).toMatch(/^wk_/);
    const key = (await page.getByTestId("new-write-key").textContent()) ?? "";
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: `Revoke all keys of ${name}` }).click();
    await expect
      .poll(() => page.getByRole("status").textContent(), { timeout: 10_000 })
      .toBe(`Revoked 1 key of ${name}.`);
    await pollUntil(
      () => track(key),
      (status) => status === 401,
      { within: 10_000, every: 200 },
    );
  });

  it("shows the API's message where a save failed, keeping what was typed", async () => {
    const page = await session.signedIn("/console/sources");
    await page.getByLabel("Source name").fill("   ");
    await page.getByRole("button", { name: "Add source" }).click();
    await expect
      .poll(() => page.getByRole("alert").textContent(), { timeout: 10_000 })
      .toContain('"name" must not be empty');
    expect(await page.getByLabel("Source name").inputValue()).toBe("   ");
  });
});
