// Emits dist/index.d.ts for npm users: tsc's declarations of browser, core and protocol under dist/types, with the
// workspace specifiers (`@tessera/core`, `@tessera/protocol`) rewritten to relative paths so the types stand alone.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL("..", import.meta.url));
const out = path.join(here, "dist/types");
rmSync(out, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    path.join(here, "../../node_modules/typescript/bin/tsc"),
    ...["-p", here, "--declaration", "--emitDeclarationOnly", "--noEmit", "false"],
    ...["--rootDir", path.join(here, ".."), "--outDir", out],
  ],
  { stdio: "inherit" },
);

const targets = { "@tessera/core": "core/src/index", "@tessera/protocol": "protocol/src/index" };
const walk = (dir) =>
  readdirSync(dir).flatMap((f) =>
    statSync(path.join(dir, f)).isDirectory() ? walk(path.join(dir, f)) : [path.join(dir, f)],
  );
for (const file of walk(out)) {
  let text = readFileSync(file, "utf8");
  for (const [spec, target] of Object.entries(targets)) {
    let rel = path.relative(path.dirname(file), path.join(out, target));
    if (!rel.startsWith(".")) rel = `./${rel}`;
    text = text.replaceAll(`"${spec}"`, `"${rel}"`);
  }
  writeFileSync(file, text);
}
writeFileSync(path.join(here, "dist/index.d.ts"), 'export * from "./types/browser/src/index";\n');
