import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { input, profileOf } from "../test-support/identity-inputs";
import { observedD1 } from "../test-support/observed-d1";
import { connectedComponents } from "./components";
import { D1IdentityStore } from "./d1-identity-store";
import { DEFAULT_IDENTITY_RULES } from "./rules";

const rules = DEFAULT_IDENTITY_RULES;

/** `env.DB` that records the parameters bound for each batch (`sent[n - 1]`), and runs `beforeBatch(n)` before batch n. */
function observedDb(beforeBatch: (n: number) => Promise<void>) {
  let bound: unknown[][] = [];
  const sent: unknown[][][] = [];
  let batches = 0;
  const db = observedD1({
    bound: (_sql, params) => bound.push(params),
    async beforeBatch() {
      sent.push(bound);
      bound = [];
      await beforeBatch(++batches);
    },
  });
  return { db, sent, batches: () => batches };
}

const orphans = (ws: string) =>
  env.DB.prepare(
    `SELECT count(*) AS n FROM profiles AS p
     WHERE p.workspace_id = ? AND NOT EXISTS (SELECT 1 FROM identifiers AS i WHERE i.profile_id = p.id)`,
  )
    .bind(ws)
    .first<number>("n");

describe("identity resolution per connected component", () => {
  it("groups inputs that share an identifier or an owning profile, and nothing else", () => {
    const snapshot = {
      owners: new Map([
        ["anonymous_id\u0000c", "prf_1"],
        ["email\u0000d@x.test", "prf_1"],
      ]),
      suppressed: new Set<string>(),
      profiles: new Map(),
    };
    const groups = connectedComponents(
      [
        input("m0", "anonymous_id:a"),
        input("m1", "anonymous_id:b"),
        input("m2", "anonymous_id:a", "user_id:u"),
        input("m3", "anonymous_id:c"),
        input("m4", "email:d@x.test"),
        input("m5", "user_id:u"),
      ],
      snapshot,
    );
    expect(groups).toEqual([[0, 2, 5], [1], [3, 4]]);
  });

  it("re-plans only the component another writer changed; the rest of the batch lands once", async () => {
    const ws = newId("ws");
    const other = new D1IdentityStore(env.DB);
    let theirs = "";
    const observed = observedDb(async (n) => {
      // Before our first batch, another isolate claims one of our identifiers: our claim of it fails.
      if (n === 1) theirs = profileOf((await other.resolve(ws, rules, [input("b1", "anonymous_id:shared")]))[0]);
      // Before our second batch (attaching our email to their profile), it changes that profile again.
      if (n === 2) await other.resolve(ws, rules, [input("b2", "anonymous_id:shared", "device_id:d2")]);
    });
    const store = new D1IdentityStore(observed.db);
    const newPeople = Array.from({ length: 9 }, (_, i) => input(`m${i + 1}`, `anonymous_id:new-${i + 1}`));
    const outcomes = await store.resolve(ws, rules, [
      input("m0", "anonymous_id:shared", "email:ours@x.io"),
      ...newPeople,
    ]);

    expect(outcomes[0]).toMatchObject({ kind: "profile", profileId: theirs, created: false });
    const created = outcomes.slice(1).map(profileOf);
    expect(new Set(created).size).toBe(9);
    expect(outcomes.slice(1).every((o) => o.kind === "profile" && o.created)).toBe(true);
    // 1: nine people land, our claim of `shared` does not (and the graph is read back); 2: our attach of the email
    // finds their profile moved; 3: it lands. Only the contended component was ever sent again.
    expect(observed.batches()).toBe(3);
    const resent = JSON.stringify(observed.sent.slice(1));
    expect(resent).toContain("shared");
    // "new-": a hyphen no generated id holds (one profile id once held "new" and failed this).
    expect(resent).not.toContain("new-");
    expect(JSON.stringify(observed.sent[0])).toContain("new-9");
    expect(await store.findProfile(ws, { type: "email", value: "ours@x.io" })).toBe(theirs);
    const n = await env.DB.prepare("SELECT count(*) AS n FROM profiles WHERE workspace_id = ?").bind(ws).first("n");
    expect(n).toBe(10);
    expect(await orphans(ws)).toBe(0);
  });

  it("makes one profile of 50 first sightings spread over ten isolates, with no orphan", async () => {
    const ws = newId("ws");
    const anon = { type: "anonymous_id", value: newId("anon") };
    const isolates = Array.from({ length: 10 }, () => new D1IdentityStore(env.DB));
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        isolates[i % 10].resolve(ws, rules, [{ messageId: `m${i}`, identifiers: [anon], at: 1000 }]),
      ),
    );
    const ids = new Set(outcomes.map(([o]) => profileOf(o)));
    expect(ids.size).toBe(1);
    expect(outcomes.filter(([o]) => o.kind === "profile" && o.created)).toHaveLength(1);
    expect(await orphans(ws)).toBe(0);
  });

  it("groups concurrent resolves of one isolate into one D1 batch", async () => {
    const ws = newId("ws");
    let release!: () => void;
    const firstWrite = new Promise<void>((r) => {
      release = r;
    });
    const observed = observedDb(async (n) => {
      if (n === 1) await firstWrite;
    });
    const store = new D1IdentityStore(observed.db);
    const first = store.resolve(ws, rules, [input("m0", "anonymous_id:p0")]);
    // The first resolve is writing; these arrive meanwhile and must wait, then go together.
    while (observed.batches() < 1) await new Promise((r) => setTimeout(r, 1));
    const rest = Array.from({ length: 20 }, (_, i) =>
      store.resolve(ws, rules, [input(`m${i + 1}`, `anonymous_id:p${i + 1}`)]),
    );
    release();
    const outcomes = [await first, ...(await Promise.all(rest))];
    // One batch (claims, then the read) for the first; one for the twenty others together.
    expect(observed.batches()).toBe(2);
    expect(new Set(outcomes.map(([o]) => profileOf(o))).size).toBe(21);
    expect(await orphans(ws)).toBe(0);
  });
});
