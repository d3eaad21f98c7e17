/**
 * One dev server and one Chromium for every console test file (vitest `globalSetup` of the `console` project):
 * each file connects to the browser with its own context and works on its own data in the shared workspace.
 */
import { chromium } from "playwright-core";
import type { TestProject } from "vitest/node";
import { CHROMIUM_ARGS, CHROMIUM_PATH, ensureChromium } from "../../../scripts/chromium.mjs";
import { startDevServer } from "../../support/dev-server";

export interface ConsoleTestEnv {
  url: string;
  writeKey: string;
  secretKey: string;
  browserEndpoint: string;
  /** The dev server's log: a failed test prints its end. */
  logPath: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    console: ConsoleTestEnv;
  }
}

export default async function setup(project: TestProject) {
  ensureChromium();
  const [server, browser] = await Promise.all([
    startDevServer(),
    chromium.launchServer({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS }),
  ]);
  project.provide("console", {
    url: server.url,
    writeKey: server.writeKey,
    secretKey: server.secretKey,
    browserEndpoint: browser.wsEndpoint(),
    logPath: server.logPath,
  });
  return async () => {
    await browser.close().catch(() => {});
    await server.stop();
  };
}
