import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { input, profileOf } from "../test-support/identity-inputs";
import { D1IdentityStore } from "./d1-identity-store";
import { DEFAULT_IDENTITY_RULES } from "./rules";

const store = new D1IdentityStore(env.DB);
const rules = DEFAULT_IDENTITY_RULES;

describe("D1IdentityStore merges", () => {
  it("converges on the oldest profile when the same pair is merged from both sides at once", async () => {
    const ws = newId("ws");
    const p1 = profileOf((await store.resolve(ws, rules, [input("m1", "anonymous_id:a1")]))[0]);
    const p2 = profileOf((await store.resolve(ws, rules, [input("m2", "anonymous_id:a2", "user_id:u")]))[0]);
    const oldest = (await env.DB.prepare(
      "SELECT id FROM profiles WHERE workspace_id = ? ORDER BY created_at, id LIMIT 1",
    )
      .bind(ws)
      .first<{ id: string }>())!.id;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.resolve(ws, rules, [
          i % 2 ? input(`x${i}`, "user_id:u", "anonymous_id:a1") : input(`x${i}`, "anonymous_id:a1", "user_id:u"),
        ]),
      ),
    );
    expect(new Set(results.map(([o]) => profileOf(o)))).toEqual(new Set([oldest]));
    const loser = oldest === p1 ? p2 : p1;
    const merges = await store.mergesInto(ws, oldest);
    expect(merges).toHaveLength(1);
    expect(merges[0]).toMatchObject({ from: loser, into: oldest, rule: "same_message" });
    expect(results.flatMap(([o]) => (o.kind === "profile" ? o.merged : []))).toEqual([{ from: loser, into: oldest }]);
    expect(await store.liveProfile(ws, loser)).toBe(oldest);
    const owners = await env.DB.prepare("SELECT DISTINCT profile_id FROM identifiers WHERE workspace_id = ?")
      .bind(ws)
      .all();
    expect(owners.results).toEqual([{ profile_id: oldest }]);
    const counts = await env.DB.prepare("SELECT identifier_count, merge_count FROM profiles WHERE id = ?")
      .bind(oldest)
      .first();
    expect(counts).toEqual({ identifier_count: 3, merge_count: 1 });
  });

  it("lets a later input of a batch see an earlier input's merge", async () => {
    const ws = newId("ws");
    const [a, b] = await store.resolve(ws, rules, [input("m1", "anonymous_id:a"), input("m2", "anonymous_id:b")]);
    const [merge, after] = await store.resolve(ws, rules, [
      input("m3", "anonymous_id:a", "anonymous_id:b"),
      input("m4", "anonymous_id:b"),
    ]);
    const survivor = profileOf(merge);
    expect([profileOf(a), profileOf(b)]).toContain(survivor);
    expect(profileOf(after)).toBe(survivor);
  });
});
