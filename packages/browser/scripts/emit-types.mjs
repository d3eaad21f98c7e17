// Emits dist/index.d.ts for npm users (or under the folder given as the first argument): tsc's declarations, kept
// only for the files the public entry reaches. Those must import nothing but each other: the SDK's public types are
// plain TypeScript (src/public-api.ts), so an app compiles against them without zod or the workspace packages.
// The build fails when a reachable declaration imports anything else.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL("..", import.meta.url));
const dist = path.resolve(process.argv[2] ?? path.join(here, "dist"));
const out = path.join(dist, "types");
const emitted = mkdtempSync(path.join(tmpdir(), "tessera-types-"));
try {
  execFileSync(
    process.execPath,
    [
      path.join(here, "../../node_modules/typescript/bin/tsc"),
      ...["-p", here, "--declaration", "--emitDeclarationOnly", "--noEmit", "false"],
      ...["--rootDir", path.join(here, ".."), "--outDir", emitted],
    ],
    { stdio: "inherit" },
  );
  // tsc also declares every workspace file the SDK's code imports (core, protocol): keep what the entry reaches.
  const reached = reachableFrom(path.join(emitted, "browser/src/index.d.ts"));
  rmSync(out, { recursive: true, force: true });
  for (const file of reached) {
    const target = path.join(out, path.relative(emitted, file));
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(file, target);
  }
  writeFileSync(path.join(dist, "index.d.ts"), 'export * from "./types/browser/src/index";\n');
} finally {
  rmSync(emitted, { recursive: true, force: true });
}

/** The declaration files `entry` reaches through relative imports; throws on any other import or reference. */
function reachableFrom(entry) {
  const reached = new Set();
  const foreign = [];
  const visit = (file) => {
    if (reached.has(file)) return;
    reached.add(file);
    const text = readFileSync(file, "utf8");
    const name = path.relative(path.dirname(entry), file);
    for (const [, types] of text.matchAll(/^\/\/\/\s*<reference\s+types="([^"]+)"/gm)) {
      foreign.push(`${name} references the types of "${types}"`);
    }
    // TSDoc examples hold imports too: only code counts.
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    for (const m of code.matchAll(/\bfrom\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g)) {
      const specifier = m[1] ?? m[2];
      const target = `${path.resolve(path.dirname(file), specifier.replace(/\.js$/, ""))}.d.ts`;
      if (!specifier.startsWith(".")) foreign.push(`${name} imports "${specifier}"`);
      else if (existsSync(target)) visit(target);
      else foreign.push(`${name} imports "${specifier}", which tsc did not declare`);
    }
  };
  visit(entry);
  if (foreign.length > 0) {
    throw new Error(`The SDK's public declarations must stand alone, but:\n  ${foreign.join("\n  ")}`);
  }
  return reached;
}
