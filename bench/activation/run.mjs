// Activation benchmark (DESIGN §7): audience change → first vendor API call, and members/s into each MAP mock with
// its real rate limit on, as a share of what the vendor allows. The mocks are TypeScript (test/support/mocks), so this
// entry bundles `activation.ts` with esbuild first (dependencies stay in node_modules) and runs it.
// Usage: npm run bench  (or: node bench/activation/run.mjs [--only latency,throughput] [--latency-profiles 100]
//   [--burst 200] [--profiles 2000] [--audiences 5] [--klaviyo-profiles 600])
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "..", "..", "node_modules", ".cache", "tessera-bench");
mkdirSync(outdir, { recursive: true });
const outfile = path.join(outdir, "activation.mjs");
await build({
  entryPoints: [path.join(here, "activation.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  // The JavaScript helpers stay where they are: they find the repository (and wrangler) from their own location.
  plugins: [
    {
      name: "keep-mjs-in-place",
      setup(b) {
        b.onResolve({ filter: /\.mjs$/ }, (args) => ({
          path: pathToFileURL(path.resolve(args.resolveDir, args.path)).href,
          external: true,
        }));
      },
    },
  ],
  logLevel: "warning",
});
await import(pathToFileURL(outfile).href);
