import type { JsonObject } from "@tessera/protocol";
import { KEYS, type KeyValue } from "./key-value";
import { uuid } from "./platform";

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
export class User {
  constructor(
    private _kv: KeyValue,
    private _newId: () => string = uuid,
  ) {}

  anonymousId(): string {
    let id = this._kv.get(KEYS.anonymousId);
    if (!id) {
      id = this._newId();
      this._kv.set(KEYS.anonymousId, id);
    }
    return id;
  }

  userId(): string | null {
    return this._kv.get(KEYS.userId) || null;
  }

  /**
   * Traits are stored as `[userId, traits]` and count only for that user id: a platform may share ids across
   * subdomains (a cookie) but not traits (localStorage), so another subdomain's identify or reset leaves this one's
   * traits behind, belonging to someone the ids no longer name. An older value, a bare object, names no owner: no one's.
   */
  traits(): JsonObject {
    try {
      const [owner, traits] = JSON.parse(this._kv.get(KEYS.traits) || "[]");
      return (owner === this.userId() && traits) || {};
    } catch {
      return {};
    }
  }

  /**
   * Sets the user id and merges traits; returns the merged traits. A different user than the one identified (another
   * person on a shared device) starts with no traits and a new anonymous id, as analytics.js does: what they do is
   * not stitched to the previous person's anonymous browsing.
   */
  identify(userId: string | null | undefined, traits: JsonObject | undefined): JsonObject {
    const current = this.userId();
    let merged = this.traits();
    // Compared as text: a numeric id (`identify(42)`) is stored as "42" and is the same user when named again.
    if (userId != null && String(userId) !== current) {
      if (current) {
        merged = {};
        this._kv.set(KEYS.anonymousId, this._newId());
      }
      this._kv.set(KEYS.userId, String(userId));
    }
    merged = { ...merged, ...traits };
    this._kv.set(KEYS.traits, JSON.stringify([this.userId(), merged]));
    return merged;
  }

  /** Forgets the user and mints a new anonymous id: the next visitor on this device is someone new. */
  reset(): void {
    for (const k of [KEYS.userId, KEYS.traits, KEYS.session]) this._kv.set(k, null);
    this._kv.set(KEYS.anonymousId, this._newId());
  }

  state(): UserState {
    return { anonymousId: this.anonymousId(), userId: this.userId(), traits: this.traits() };
  }
}
