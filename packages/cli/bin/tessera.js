#!/usr/bin/env node
// The `tessera` command. A launcher rather than the bundle itself, so that `npm install` links it before anything is
// built (npm links no bin whose file is missing, and `dist/` is made by `npm run build`, which `npm run dev` runs).
import { existsSync } from "node:fs";

const bundle = new URL("../dist/tessera.js", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write("tessera: the CLI is not built yet: run `npm run build` (`npm run dev` builds it too)\n");
  process.exit(2);
}
await import(bundle.href);
