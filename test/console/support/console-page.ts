/**
 * What a console test starts from: the shared dev server and browser (see global-setup.ts), a fresh browser
 * context, and a signed-in page. Also records what the CSP blocked, which must stay nothing.
 */
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, inject } from "vitest";
import { type DevServer, printServerLogOnFailure } from "../../support/dev-server";
import type { ConsoleTestEnv } from "./global-setup";

export interface ConsoleSession {
  env: ConsoleTestEnv;
  /** The shared dev server as the API kits (test/support/dev-api.ts) take it. */
  server: DevServer;
  context: BrowserContext;
  /** Messages of CSP violations and uncaught page errors seen so far. */
  problems: string[];
  /** A new page, signed in with the workspace's secret key through the sign-in form. */
  signedIn(path?: string): Promise<Page>;
}

/** How long one browser step (a navigation, a click, a wait for an element) may take. */
export const STEP_TIMEOUT_MS = 25_000;

/** Connects to the shared browser for this file; everything is closed after the file. */
export function useConsole(): ConsoleSession {
  const env = inject("console");
  let browser: Browser;
  /** The URLs of this file's requests that have no answer yet. */
  const unanswered = new Set<string>();
  const session = {
    env,
    server: {
      url: env.url,
      writeKey: env.writeKey,
      secretKey: env.secretKey,
      adminToken: "",
      logPath: env.logPath,
      stop: async () => {},
    },
    problems: [],
    async signedIn(path = "/console") {
      const page = await session.context.newPage();
      await page.goto(`${env.url}${path}`).catch((err) => {
        // Which of the shell's files never came is what explains a load that ran out of time.
        throw new Error(`${err.message}\nrequests still unanswered: ${[...unanswered].join(", ") || "none"}`);
      });
      await page.getByLabel("Secret key").fill(env.secretKey);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("link", { name: "Profiles" }).waitFor();
      return page;
    },
  } as unknown as ConsoleSession;
  beforeAll(async () => {
    browser = await chromium.connect(env.browserEndpoint);
    session.context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // A step that waits this long is stuck: it fails naming itself before the test's 60 s timeout would fail the whole
    // test without saying where (Playwright's own default, 30 s a step, let two slow steps reach it first).
    session.context.setDefaultTimeout(STEP_TIMEOUT_MS);
    session.context.on("request", (request) => unanswered.add(request.url()));
    session.context.on("requestfinished", (request) => unanswered.delete(request.url()));
    session.context.on("requestfailed", (request) => unanswered.delete(request.url()));
    session.context.on("page", (page) => {
      page.on("console", (m) => {
        if (/Content Security Policy/i.test(m.text())) session.problems.push(m.text());
      });
      page.on("pageerror", (err) => session.problems.push(err.message));
    });
  });
  // The shared server's log holds the other files' requests too, but it is all there is to explain a failure.
  printServerLogOnFailure(() => env.logPath);
  afterAll(async () => {
    // Every file's pages ran under the strict CSP: anything it blocked (or any uncaught error) fails the file.
    expect(session.problems).toEqual([]);
    await session.context?.close();
    await browser?.close();
  });
  return session;
}
