import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

describe("the installed `tessera` command", () => {
  it("is linked by npm install and runs the built CLI", () => {
    // node_modules/.bin/tessera exists only if npm could link the bin when it installed (a fresh `npm ci`).
    const run = spawnSync(path.join(ROOT, "node_modules/.bin/tessera"), ["import", "--help"], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: tessera import <file> --host <url> --write-key <key>/);
  });
});
