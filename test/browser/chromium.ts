import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Installs Debian's chromium when it is missing (nothing here downloads a browser of its own). */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  execFileSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit" });
}

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
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-quic",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
