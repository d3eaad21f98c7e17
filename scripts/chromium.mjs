// Debian's Chromium, as the browser tests and the SDK benchmark launch it. Nothing here downloads a browser build.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Flags for a closed network: without the background-networking ones Chromium dials out at every start. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-quic",
  "--disable-sync",
];

/** Install Debian's chromium when missing; a fresh machine has no package lists yet, so update them first. */
export function ensureChromium() {
  if (existsSync(CHROMIUM_PATH)) return;
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
  execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}
