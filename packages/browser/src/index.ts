/**
 * `@tessera/browser` for bundlers: `createTessera()` makes an instance; the script-tag build is `iife.ts`.
 *
 * @example
 * import { createTessera } from "@tessera/browser";
 * export const tessera = createTessera();
 * tessera.load("wk_live_…", { apiHost: "https://collect.example.com" });
 */
export type { CallOptions, ConsentState, Plugin, PluginStage, UserState } from "@tessera/core";
export { createTessera, type LoadOptions, type Tessera, VERSION } from "./tessera";
