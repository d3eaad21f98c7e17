/**
 * `@tessera/browser` for bundlers: `createTessera()` makes an instance; the script-tag build is `iife.ts`.
 *
 * @example
 * import { createTessera } from "@tessera/browser";
 * export const tessera = createTessera();
 * tessera.load("wk_live_…", { apiHost: "https://collect.example.com" });
 */
export type {
  AliasMessage,
  Callback,
  CallOptions,
  ConsentState,
  GroupMessage,
  IdentifyMessage,
  JsonObject,
  JsonValue,
  LoadOptions,
  Message,
  MessageFields,
  PageMessage,
  Plugin,
  PluginStage,
  RetryOptions,
  ScreenMessage,
  SessionOptions,
  Tessera,
  TrackMessage,
  UserState,
} from "./public-api";
export { createTessera, VERSION } from "./tessera";
