import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH, ensureChromium } from "../../scripts/chromium.mjs";

export interface BrowserOptions {
  /** Block cookies and site data for every site (Chromium's content setting): cookies, localStorage, IndexedDB. */
  blockStorage?: boolean;
}

/**
 * A real headless Chromium with a fresh profile directory; all pages of the returned context share one
 * profile (tabs of the same browser). `close()` ends the browser and removes the profile.
 */
export async function openBrowser(
  options: BrowserOptions = {},
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  ensureChromium();
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-chromium-"));
  if (options.blockStorage) {
    mkdirSync(path.join(dir, "Default"), { recursive: true });
    writeFileSync(
      path.join(dir, "Default", "Preferences"),
      JSON.stringify({ profile: { default_content_setting_values: { cookies: 2 } } }),
    );
  }
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
