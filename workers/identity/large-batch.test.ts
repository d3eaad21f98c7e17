import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { input, profileOf } from "../test-support/identity-inputs";
import { observedD1 } from "../test-support/observed-d1";
import { D1IdentityStore } from "./d1-identity-store";
import { DEFAULT_IDENTITY_RULES } from "./rules";

/** D1 that records every statement's bound parameter count and each batch() call. */
function recordingD1() {
  const params: number[] = [];
  let batches = 0;
  const db = observedD1({
    bound: (_sql, values) => params.push(values.length),
    beforeBatch: () => {
      batches++;
    },
  });
  return { db, params, batches: () => batches };
}

describe("D1IdentityStore on a full batch", () => {
  it("resolves 2,500 new visitors in one round trip (claims, then the read, in one batch), within D1's parameter limit", async () => {
    const ws = newId("ws");
    const { db, params, batches } = recordingD1();
    const store = new D1IdentityStore(db);
    const inputs = Array.from({ length: 2500 }, (_, i) =>
      i % 10 === 0
        ? input(`m${i}`, `anonymous_id:v${i}`, `user_id:u${i}`, `email:v${i}@x.io`)
        : input(`m${i}`, `anonymous_id:v${i}`),
    );
    const outcomes = await store.resolve(ws, DEFAULT_IDENTITY_RULES, inputs);
    expect(new Set(outcomes.map(profileOf)).size).toBe(2500);
    expect(batches()).toBe(1);
    expect(Math.max(...params)).toBeLessThanOrEqual(100);
    const n = await env.DB.prepare("SELECT count(*) AS n FROM identifiers WHERE workspace_id = ?").bind(ws).first("n");
    expect(n).toBe(3000);
  });

  it("keeps one grouped batch to ~25,000 identifiers when concurrent calls carry many (50 external ids each)", async () => {
    const ws = newId("ws");
    const statements: number[] = [];
    const db = observedD1({ beforeBatch: (batch) => void statements.push(batch.length) });
    const store = new D1IdentityStore(db);
    // Four requests of 200 messages with 52 identifiers each: 10,600 by the group's count apiece.
    const call = (c: number) =>
      store.resolve(
        ws,
        DEFAULT_IDENTITY_RULES,
        Array.from({ length: 200 }, (_, i) =>
          input(
            `m${c}-${i}`,
            `anonymous_id:v${c}-${i}`,
            `user_id:u${c}-${i}`,
            ...Array.from({ length: 50 }, (_, j) => `ext${j}:x${c}-${i}-${j}`),
          ),
        ),
      );
    const outcomes = (await Promise.all([0, 1, 2, 3].map(call))).flat();
    expect(new Set(outcomes.map(profileOf)).size).toBe(800);
    // By the number of inputs (800) all four would be one batch; by their identifiers, two of two requests each.
    expect(statements).toHaveLength(2);
    expect(Math.max(...statements)).toBeLessThan(300);
  }, 60_000);
});
