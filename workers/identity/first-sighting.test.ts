import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { D1IdentityStore } from "./d1-identity-store";
import { DEFAULT_IDENTITY_RULES } from "./rules";

const store = new D1IdentityStore(env.DB);

describe("D1IdentityStore first sightings", () => {
  it("creates exactly one profile when 50 requests see a new anonymous id at once", async () => {
    const ws = newId("ws");
    const anon = { type: "anonymous_id", value: newId("anon") };
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.resolve(ws, DEFAULT_IDENTITY_RULES, [{ messageId: `m${i}`, identifiers: [anon], at: 1000 }]),
      ),
    );
    const ids = new Set(outcomes.map(([o]) => (o.kind === "profile" ? o.profileId : "suppressed")));
    expect(ids.size).toBe(1);
    const [profileId] = [...ids];
    expect(outcomes.filter(([o]) => o.kind === "profile" && o.created)).toHaveLength(1);

    const profiles = await env.DB.prepare("SELECT id FROM profiles WHERE workspace_id = ?").bind(ws).all();
    expect(profiles.results).toEqual([{ id: profileId }]);
    const owners = await env.DB.prepare("SELECT profile_id FROM identifiers WHERE workspace_id = ?").bind(ws).all();
    expect(owners.results).toEqual([{ profile_id: profileId }]);
    expect(await store.findProfile(ws, anon)).toBe(profileId);
  });

  it("resolves identical identifier sets in one batch to one new profile", async () => {
    const ws = newId("ws");
    const anon = { type: "anonymous_id", value: "a-1" };
    const outcomes = await store.resolve(ws, DEFAULT_IDENTITY_RULES, [
      { messageId: "m1", identifiers: [anon], at: 1 },
      { messageId: "m2", identifiers: [anon], at: 2 },
    ]);
    expect(outcomes[0]).toMatchObject({ kind: "profile", created: true, attached: [anon] });
    expect(outcomes[1]).toMatchObject({
      kind: "profile",
      created: false,
      profileId: (outcomes[0] as { profileId: string }).profileId,
    });
    const n = await env.DB.prepare("SELECT count(*) AS n FROM profiles WHERE workspace_id = ?").bind(ws).first("n");
    expect(n).toBe(1);
  });
});
