import type { JsonObject } from "@tessera/protocol";
import { type KeyValue } from "./key-value";
/** Who the SDK thinks is on the device: what `user()` returns. */
export interface UserState {
  anonymousId: string;
  userId: string | null;
  traits: JsonObject;
}
/**
 * Identity kept in {@link KeyValue}: the anonymous id (minted once, rotated by reset), the user id and traits.
 * Reads go to the KeyValue every time so changes by other tabs (same cookie) are seen.
 */
export declare class User {
  private _kv;
  private _newId;
  constructor(_kv: KeyValue, _newId?: () => string);
  anonymousId(): string;
  userId(): string | null;
  traits(): JsonObject;
  /** Sets the user id (a different user starts with no traits) and merges traits; returns the merged traits. */
  identify(userId: string | null | undefined, traits: JsonObject | undefined): JsonObject;
  /** Forgets the user and mints a new anonymous id: the next visitor on this device is someone new. */
  reset(): void;
  state(): UserState;
}
