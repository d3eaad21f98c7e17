import { afterAll, beforeAll } from "vitest";
import { type DevServer, printServerLogOnFailure, startDevServer } from "../support/dev-server";
import { type BrowserOptions, openBrowser } from "./chromium";
import { type Site, startSite } from "./site";

export type OpenBrowser = Awaited<ReturnType<typeof openBrowser>>;

/**
 * One recording site and one Chromium for the whole file, closed after it. `use` receives them once started
 * (the test file keeps them in its own variables, so test bodies read as plain `site` and `browser`).
 */
export function useSiteAndBrowser(use: (site: Site, browser: OpenBrowser) => void, options?: BrowserOptions): void {
  let site: Site | undefined;
  let browser: OpenBrowser | undefined;
  beforeAll(async () => {
    site = await startSite();
    browser = await openBrowser(options);
    use(site, browser);
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });
}

/** The real platform (`npm run dev`'s script on a free port, fresh state) and one Chromium for the whole file. */
export function useDevServerAndBrowser(use: (server: DevServer, browser: OpenBrowser) => void): void {
  let server: DevServer | undefined;
  let browser: OpenBrowser | undefined;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startDevServer(), openBrowser()]);
    use(server, browser);
  });
  printServerLogOnFailure(() => server?.logPath);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
}
