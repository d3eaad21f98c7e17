import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { id, input, profileOf } from "../test-support/identity-inputs";
import { observedD1 } from "../test-support/observed-d1";
import { D1IdentityStore } from "./d1-identity-store";
import { DEFAULT_IDENTITY_RULES } from "./rules";
import { suppressionHash } from "./suppressions";

const store = new D1IdentityStore(env.DB);
const rules = DEFAULT_IDENTITY_RULES;

describe("suppressions as keyed hashes", () => {
  it("hashes plaintext rows an older version left, before the first check, and still drops their events", async () => {
    const ws = newId("ws");
    await env.DB.prepare("INSERT INTO suppressions (workspace_id, type, value, created_at) VALUES (?, ?, ?, 1)")
      .bind(ws, "email", "legacy@x.io")
      .run();
    // The legacy rows move before a binding's first suppression check: a binding this isolate has not checked yet
    // (an earlier test or file may have checked env.DB's).
    const firstCheck = new D1IdentityStore(observedD1({}));
    const [later] = await firstCheck.resolve(ws, rules, [input("m1", "anonymous_id:n", "email:legacy@x.io")]);
    expect(later).toEqual({ kind: "suppressed", identifier: id("email:legacy@x.io") });
    const legacy = await env.DB.prepare("SELECT count(*) AS n FROM suppressions").first("n");
    expect(legacy).toBe(0);
    const hashed = await env.DB.prepare("SELECT type, hash FROM suppression_hashes WHERE workspace_id = ?")
      .bind(ws)
      .all();
    expect(hashed.results).toEqual([{ type: "email", hash: await suppressionHash(ws, id("email:legacy@x.io")) }]);
  });

  it("stores an erased profile's identifiers only as hashes, which later messages still match", async () => {
    const ws = newId("ws");
    const p = profileOf((await store.resolve(ws, rules, [input("m1", "email:jane@x.io", "device_id:d-1")]))[0]);
    await store.erase(ws, p);
    const rows = await env.DB.prepare("SELECT * FROM suppression_hashes WHERE workspace_id = ?").bind(ws).all();
    expect(rows.results).toHaveLength(2);
    expect(JSON.stringify(rows.results)).not.toMatch(/jane@x\.io|d-1/);
    const [again] = await store.resolve(ws, rules, [input("m2", "device_id:d-1")]);
    expect(again).toEqual({ kind: "suppressed", identifier: id("device_id:d-1") });
  });

  it("stores the rest of a batch whose erased person's message shares a new identifier with another message", async () => {
    const ws = newId("ws");
    const carol = profileOf((await store.resolve(ws, rules, [input("m1", "user_id:carol")]))[0]);
    await store.erase(ws, carol);
    // Her message names a new anonymous id; a second message carries only that id: one component, hers dropped.
    const [hers, visitor] = await store.resolve(ws, rules, [
      input("m2", "user_id:carol", "anonymous_id:new-tab"),
      input("m3", "anonymous_id:new-tab"),
    ]);
    expect(hers).toEqual({ kind: "suppressed", identifier: id("user_id:carol") });
    expect(visitor).toMatchObject({ kind: "profile", created: true });
    expect(await store.findProfile(ws, id("anonymous_id:new-tab"))).toBe(profileOf(visitor));
  });

  it("drops an alias whose previousId was an erased user id, and stores the rest of its batch", async () => {
    const ws = newId("ws");
    await store.erase(ws, profileOf((await store.resolve(ws, rules, [input("m1", "user_id:gone")]))[0]));
    const alias = { ...input("m2", "user_id:new-login", "anonymous_id:gone"), previousId: "gone" };
    const [bystander, dropped] = await store.resolve(ws, rules, [input("m3", "user_id:bystander"), alias]);
    expect(dropped).toEqual({ kind: "suppressed", identifier: id("user_id:gone") });
    expect(await store.findProfile(ws, id("user_id:new-login"))).toBeNull();
    expect(await store.findProfile(ws, id("user_id:bystander"))).toBe(profileOf(bystander));
  });

  it("keys a hash by workspace, type and value", async () => {
    const jane = id("email:jane@x.io");
    const h = await suppressionHash("ws_a", jane);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(await suppressionHash("ws_a", jane)).toBe(h);
    expect(await suppressionHash("ws_b", jane)).not.toBe(h);
    expect(await suppressionHash("ws_a", id("user_id:jane@x.io"))).not.toBe(h);
    expect(await suppressionHash("ws_a", id("email:jane@x.io "))).not.toBe(h);
  });

  it("suppresses in the erased workspace only", async () => {
    const [a, b] = [newId("ws"), newId("ws")];
    for (const ws of [a, b]) await store.resolve(ws, rules, [input("m1", "user_id:u-1")]);
    await store.erase(a, (await store.findProfile(a, id("user_id:u-1"))) as string);
    const [inA] = await store.resolve(a, rules, [input("m2", "user_id:u-1")]);
    const [inB] = await store.resolve(b, rules, [input("m2", "user_id:u-1")]);
    expect(inA.kind).toBe("suppressed");
    expect(inB).toMatchObject({ kind: "profile", created: false });
  });
});
