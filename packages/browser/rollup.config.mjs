// Three builds: the script-tag IIFE (one file, no eval), ESM for npm (idb-keyval stays a dependency), and the
// inline snippet. TypeScript is stripped by esbuild; terser mangles `_private` members, never wire-format keys.
import { fileURLToPath } from "node:url";
import nodeResolve from "@rollup/plugin-node-resolve";
import terser from "@rollup/plugin-terser";
import { transform } from "esbuild";

const core = fileURLToPath(new URL("../core/src/index.ts", import.meta.url));

/** Resolves `@tessera/core` to its source and strips types from `.ts` files. */
const typescript = {
  name: "typescript",
  resolveId(id, importer) {
    if (id === "@tessera/core") return core;
    if (importer?.endsWith(".ts") && id.startsWith(".") && !id.endsWith(".ts")) {
      return this.resolve(`${id}.ts`, importer, { skipSelf: true });
    }
    return null;
  },
  async transform(code, id) {
    if (!id.endsWith(".ts")) return null;
    const out = await transform(code, {
      loader: "ts",
      format: "esm",
      target: "es2019",
      sourcefile: id,
      // Plain `this.x = …` assignments: smaller than define semantics, and manglable (`_private` names stay visible).
      tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
    });
    return { code: out.code, map: out.map || null };
  },
};

const minify = terser({
  ecma: 2019,
  compress: { passes: 3, unsafe_arrows: true, pure_getters: true },
  mangle: { properties: { regex: /^_/ } },
  format: { comments: false },
});

export default [
  {
    input: "src/iife.ts",
    plugins: [typescript, nodeResolve()],
    output: { file: "dist/tessera.min.js", format: "iife", plugins: [minify] },
  },
  {
    input: "src/index.ts",
    external: ["idb-keyval"],
    plugins: [typescript, nodeResolve()],
    output: { file: "dist/index.mjs", format: "es" },
  },
  {
    input: "snippet/snippet.js",
    output: {
      file: "dist/snippet.min.js",
      // A function scope, so the minified variables never become globals of the host page.
      format: "iife",
      plugins: [terser({ ecma: 2020, compress: { passes: 2 }, format: { comments: false } })],
    },
  },
];
