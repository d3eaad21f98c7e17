import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/local-platform.mjs";
import type { DevServer } from "../support/dev-server";
import { type OpenBrowser, useDevServerAndBrowser } from "./fixtures";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("the /docs page of npm run dev", () => {
  let server: DevServer;
  let browser: OpenBrowser;
  useDevServerAndBrowser((s, b) => {
    server = s;
    browser = b;
  });

  it("loads the pinned Scalar bundle from the deployment, as JavaScript cached for good", async () => {
    const html = await (await fetch(`${server.url}/docs`)).text();
    const src = /<script\b[^>]*\bsrc="([^"]*)"/.exec(html)?.[1];
    expect(src).toMatch(/^\/docs\/assets\//);

    const res = await fetch(new URL(src!, server.url));
    expect(res.status, `${src} (bumped @scalar/api-reference? bump SCALAR_SCRIPT_PATH with it)`).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^(text|application)\/javascript\b/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    // Byte for byte the standalone build of the installed (package-lock) version.
    const installed = readFileSync(path.join(ROOT, "node_modules/@scalar/api-reference/dist/browser/standalone.js"));
    expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(installed));
  });

  it("renders the API reference with every request off this machine refused", async () => {
    const page = await browser.context.newPage();
    const refused: string[] = [];
    await page.route("**/*", (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === "127.0.0.1" || hostname === "localhost") return route.continue();
      refused.push(route.request().url());
      return route.abort("internetdisconnected");
    });
    const errors: Error[] = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(`${server.url}/docs`);

    await expect
      .poll(() => page.getByRole("heading", { name: "Tessera API" }).isVisible(), { timeout: 30_000 })
      .toBe(true);
    // An operation of the document, in the sidebar: Scalar read /openapi.json and laid it out.
    await expect
      .poll(() => page.getByText("Send a batch of up to 2500 messages").first().isVisible(), { timeout: 10_000 })
      .toBe(true);
    expect(refused).toEqual([]);
    expect(errors).toEqual([]);
    // No control that sends the document to Scalar's services: its AI chat, MCP generation, share/deploy.
    for (const name of [/Ask AI/i, /MCP/, /Deploy/i, /Share/i]) {
      expect(await page.getByRole("button", { name }).count(), String(name)).toBe(0);
    }
    await page.close();
  });
});
