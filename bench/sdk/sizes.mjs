// Bytes on the wire of each SDK's initial script-tag file: gzip -9 and brotli 11, as reference/sdk.md §1.1 measures
// them (files shipped unminified are minified with esbuild first, as their CDNs would serve them minified).
import { readFileSync } from "node:fs";
import path from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { transformSync } from "esbuild";

const root = path.join(import.meta.dirname, "../..");
const mod = (p) => path.join(root, "node_modules", p);

/** [label, file, minify first?] */
export const SDK_FILES = [
  ["tessera IIFE (ours)", path.join(root, "packages/browser/dist/tessera.min.js"), false],
  ["tessera snippet (ours)", path.join(root, "packages/browser/dist/snippet.min.js"), false],
  ["@segment/analytics-next standalone", mod("@segment/analytics-next/dist/umd/standalone.js"), false],
  ["@rudderstack/analytics-js modern UMD", mod("@rudderstack/analytics-js/dist/npm/modern/umd/index.js"), true],
  ["@jitsu/js p.js", mod("@jitsu/js/dist/web/p.js.txt"), true],
  ["posthog-js array.js", mod("posthog-js/dist/array.js"), false],
];

export function measure(file, minify) {
  let bytes = readFileSync(file);
  if (minify) bytes = Buffer.from(transformSync(bytes.toString("utf8"), { minify: true, loader: "js" }).code);
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    }).length,
  };
}

/** Sizes of every file, with each comparison's ratio to our IIFE. */
export function sizeTable() {
  const rows = SDK_FILES.map(([label, file, minify]) => ({ label, ...measure(file, minify) }));
  const ours = rows[0];
  return rows.map((r) => ({ ...r, gzipRatio: r.gzip / ours.gzip, brotliRatio: r.brotli / ours.brotli }));
}
