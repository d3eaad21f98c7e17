import { describe, expect, it } from "vitest";
import { memoryKeyValue } from "./key-value";
import { DEFAULT_SESSION, touchSession } from "./session";

describe("touchSession", () => {
  it("keeps the session while active and starts a new one after 30 idle minutes", () => {
    const kv = memoryKeyValue();
    expect(touchSession(kv, 1000, DEFAULT_SESSION)).toEqual({ id: 1000, start: true });
    expect(touchSession(kv, 1000 + 29 * 60_000, DEFAULT_SESSION)).toEqual({ id: 1000, start: false });
    const t = 1000 + 29 * 60_000 + 30 * 60_000 + 1;
    expect(touchSession(kv, t, DEFAULT_SESSION)).toEqual({ id: t, start: true });
  });
  it("ends a session at its maximum length even while active", () => {
    const kv = memoryKeyValue();
    touchSession(kv, 0 + 1, DEFAULT_SESSION);
    let t = 1;
    while (t < 24 * 3600_000) {
      t += 20 * 60_000;
      touchSession(kv, t, DEFAULT_SESSION);
    }
    expect(touchSession(kv, t + 1000, DEFAULT_SESSION).start).toBe(true);
  });
});
