import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BROWSER = path.join(import.meta.dirname, "..");
const TSC = path.join(BROWSER, "../../node_modules/typescript/bin/tsc");

/**
 * An app outside the repo (no node_modules above it: zod and the workspace packages cannot be found) using the SDK's
 * public types the way its README does, compiled strictly, declarations included.
 */
const APP = `
import { createTessera, type LoadOptions, type Message, type Plugin, type UserState } from "./sdk/index";

const dropDebug: Plugin = {
  stage: "before",
  run: (m: Message) => (m.type === "track" && m.event === "Debug" ? null : { ...m, context: { app: "shop" } }),
};
const options: LoadOptions = { apiHost: "https://collect.example.com", flushAt: 5, retry: { maxAttempts: 3 }, plugins: [dropDebug] };
const tessera = createTessera();
tessera.load("wk_live_x", options);
tessera.track("Order Completed", { total: 42, items: [{ sku: "X1" }] });
tessera.identify("u-42", { email: "jane@example.com" });
const user: UserState | undefined = tessera.user();
export const anonymousId: string | undefined = user?.anonymousId;
// @ts-expect-error properties are JSON: a function is refused
tessera.track("Bad", { f: () => 1 });
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "tessera-sdk-types-"));
  execFileSync(process.execPath, [path.join(BROWSER, "scripts/emit-types.mjs"), path.join(dir, "sdk")]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const declarations = (folder: string): string[] =>
  readdirSync(folder, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".d.ts"))
    .map((f) => path.join(folder, f));

describe("the SDK's published declarations", () => {
  it("import nothing but each other: no zod, no workspace package", () => {
    const folder = path.join(dir, "sdk");
    const files = declarations(folder);
    expect(files.map((f) => path.relative(folder, f)).sort()).toEqual([
      "index.d.ts",
      "types/browser/src/index.d.ts",
      "types/browser/src/page-context.d.ts",
      "types/browser/src/public-api.d.ts",
      "types/browser/src/tessera.d.ts",
    ]);
    for (const file of files) {
      // Without the TSDoc comments, whose examples import the SDK by its package name.
      const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
      const imports = [...code.matchAll(/\bfrom\s+"([^"]+)"|\bimport\(\s*"([^"]+)"/g)].map((m) => m[1] ?? m[2]);
      expect(
        imports.filter((specifier) => !specifier.startsWith("./")),
        file,
      ).toEqual([]);
    }
  });

  it("compile in an app that has no zod types, and type its calls", () => {
    writeFileSync(path.join(dir, "app.ts"), APP);
    writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          target: "es2022",
          module: "es2022",
          moduleResolution: "bundler",
          lib: ["es2022", "dom"],
          types: [],
        },
        files: ["app.ts"],
      }),
    );
    const tsc = spawnSync(process.execPath, [TSC, "-p", dir], { encoding: "utf8" });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  });
});
