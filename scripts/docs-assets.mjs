// Part of `npm run build`: copies Scalar's standalone browser bundle from the pinned devDependency
// @scalar/api-reference into the Worker's static assets (workers/public), where GET /docs loads it from
// (workers/api/openapi.ts). The page then needs no CDN: it renders offline under `npm run dev`, and the script it runs
// is the version package-lock.json names, not whatever a CDN serves that day. The file's name carries the version, so
// browsers keep it for good (workers/public/_headers); the Worker script stays small (the bundle is ~4 MB).
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Its exports map hides package.json and the browser build, so both are read from the installed folder.
const pkg = path.join(ROOT, "node_modules", "@scalar", "api-reference");
const { version } = JSON.parse(readFileSync(path.join(pkg, "package.json"), "utf8"));
const out = path.join(ROOT, "workers", "public", "docs", "assets");
const LOCAL_COPY = path.join(ROOT, ".wrangler", "docs-assets", "scalar-api-reference.txt");

// A bundle of an earlier version left in place would be deployed too.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const bundle = path.join(pkg, "dist", "browser", "standalone.js");
copyFileSync(bundle, path.join(out, `scalar-api-reference-${version}.js`));
// The same file for the Worker `wrangler dev` runs locally, which serves it itself (workers/local-entry.ts): a text
// module, by wrangler's default rule for `.txt`. Outside workers/public, so that it is not deployed twice.
mkdirSync(path.dirname(LOCAL_COPY), { recursive: true });
copyFileSync(bundle, LOCAL_COPY);
