import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

const DIST = path.join(import.meta.dirname, "../../packages/browser/dist");
const gzip = (file: string) => gzipSync(readFileSync(path.join(DIST, file)), { level: 9 }).length;

/** The byte budget of reference/sdk.md §4.1 (gzip -9), checked on the files `npm run build` makes. */
describe("SDK size budget", () => {
  it("keeps the script-tag IIFE, idb-keyval included, within 8,000 B gzip", () => {
    expect(gzip("tessera.min.js")).toBeLessThanOrEqual(8000);
  });
  // A ratchet on the way to the 6,500 B goal: the IIFE measured 6,865 B when the goal was set, and bytes won back
  // since must not quietly go again. Raise it only with a reason in the commit.
  // Raised 6,865 → 7,149 B for analytics.js call options, callbacks, owned traits, UTF-8 byte limits, and no beacon
  // while the last request got no answer.
  // Raised 7,149 → 7,170 B: group() without an id sends nothing (+5 B), and the localStorage flush lock is given up
  // when its page goes (+16 B).
  it("keeps the script-tag IIFE within the 7,170 B it measures with analytics.js options and callbacks", () => {
    expect(gzip("tessera.min.js")).toBeLessThanOrEqual(7170);
  });
  it("keeps the inline snippet within 700 B gzip", () => {
    expect(gzip("snippet.min.js")).toBeLessThanOrEqual(700);
  });
  it("ships no eval or new Function (CSP without unsafe-eval)", () => {
    const source = readFileSync(path.join(DIST, "tessera.min.js"), "utf8");
    expect(source).not.toMatch(/\beval\(|new Function\(/);
  });
});
