/**
 * Compile-time proof that the plain public types (`public-api.ts`) still describe what the engine takes and gives:
 * `tsc -p packages/browser` fails here when a type in `@tessera/core` or `@tessera/protocol` changes without its
 * public twin. Nothing here runs or ships (no file imports this one).
 */
import type * as Core from "@tessera/core";
import type * as Protocol from "@tessera/protocol";
import type * as Public from "./public-api";

/** `true` when each of A and B is assignable to the other. */
type Interchangeable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;

export type PublicApiMatchesEngine = [
  Holds<Interchangeable<Public.JsonObject, Protocol.JsonObject>>,
  Holds<Interchangeable<Public.Message, Protocol.Message>>,
  Holds<Interchangeable<Public.TrackMessage, Protocol.TrackMessage>>,
  Holds<Interchangeable<Public.IdentifyMessage, Protocol.IdentifyMessage>>,
  Holds<Interchangeable<Public.PageMessage, Protocol.PageMessage>>,
  Holds<Interchangeable<Public.ScreenMessage, Protocol.ScreenMessage>>,
  Holds<Interchangeable<Public.GroupMessage, Protocol.GroupMessage>>,
  Holds<Interchangeable<Public.AliasMessage, Protocol.AliasMessage>>,
  Holds<Interchangeable<Public.Plugin, Core.Plugin>>,
  Holds<Interchangeable<Public.PluginStage, Core.PluginStage>>,
  Holds<Interchangeable<Public.ConsentState, Core.ConsentState>>,
  Holds<Interchangeable<Public.UserState, Core.UserState>>,
  Holds<Interchangeable<Public.CallOptions, Core.CallOptions>>,
  Holds<Interchangeable<Public.RetryOptions, Core.RetryOptions>>,
  Holds<Interchangeable<Public.SessionOptions, Core.SessionOptions>>,
  // Every engine tunable `load` passes through, with the engine's type.
  Holds<
    Interchangeable<
      Pick<
        Public.LoadOptions,
        "flushAt" | "flushInterval" | "maxBatchBytes" | "maxEventBytes" | "maxQueue" | "retry" | "session"
      >,
      Partial<
        Pick<
          Core.EngineOptions,
          "flushAt" | "flushInterval" | "maxBatchBytes" | "maxEventBytes" | "maxQueue" | "retry" | "session"
        >
      >
    >
  >,
];
