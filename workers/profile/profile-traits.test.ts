import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { MAX_PROFILE_TRAIT_BYTES } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { utf8Bytes } from "../shared/utf8";
import { freshId, identify, ingestInput, track } from "../test-support/messages";
import { profileOf } from "../test-support/profile-reads";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";

async function traitsOf(id: string) {
  const read = await profileStub(env.PROFILE, id).getProfile();
  if (read.status !== "ok") throw new Error(read.status);
  return read.profile.traits;
}

describe("ProfileDO traits", () => {
  it("keeps the newer value when an older identify arrives after a newer one", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    await stub.ingest(ingestInput(id, [identify({ plan: "pro", name: "Jane" }, "2026-05-02T00:00:00.000Z")]));
    await stub.ingest(ingestInput(id, [identify({ plan: "free", company: "Acme" }, "2026-05-01T00:00:00.000Z")]));
    // plan: the late, older write loses; company: nobody set it before, so the older write still lands.
    expect(await traitsOf(id)).toEqual({ plan: "pro", name: "Jane", company: "Acme" });
  });

  it("resolves traits by event time within one batch, whatever the order", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    await stub.ingest(
      ingestInput(id, [
        identify({ plan: "team" }, "2026-05-03T00:00:00.000Z"),
        identify({ plan: "free" }, "2026-05-01T00:00:00.000Z"),
      ]),
    );
    expect(await traitsOf(id)).toEqual({ plan: "team" });
  });

  it("breaks a timestamp tie in favour of the later received message", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    const at = "2026-05-01T00:00:00.000Z";
    await stub.ingest(ingestInput(id, [identify({ plan: "late" }, at, { receivedAt: "2026-05-01T00:00:09.000Z" })]));
    await stub.ingest(ingestInput(id, [identify({ plan: "early" }, at, { receivedAt: "2026-05-01T00:00:01.000Z" })]));
    expect(await traitsOf(id)).toEqual({ plan: "late" });
  });

  it("lets the later message of one batch win when event and arrival times tie", async () => {
    const id = freshId("prf");
    const at = "2026-05-01T00:00:00.000Z";
    await profileStub(env.PROFILE, id).ingest(
      ingestInput(id, [identify({ plan: "first" }, at), identify({ plan: "second" }, at)]),
    );
    expect(await traitsOf(id)).toEqual({ plan: "second" });
  });

  it("takes context.traits from any message type, but not a group call's traits", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    const group = {
      ...identify({}, "2026-05-01T00:00:00.000Z"),
      type: "group",
      groupId: "g1",
      traits: { employees: 50 },
    } as unknown as ReturnType<typeof identify>;
    await stub.ingest(
      ingestInput(id, [
        track("Viewed", "2026-05-01T00:00:00.000Z", { context: { traits: { email: "j@example.com" } } }),
        group,
      ]),
    );
    expect(await traitsOf(id)).toEqual({ email: "j@example.com" });
  });

  it("replaces a top-level trait whole, keeps nulls and keys like __proto__ as data", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    await stub.ingest(
      ingestInput(id, [identify({ address: { city: "Paris", zip: "75001" } }, "2026-05-01T00:00:00.000Z")]),
    );
    const later = JSON.parse('{"address":{"city":"Lyon"},"nickname":null,"__proto__":{"admin":true}}');
    await stub.ingest(ingestInput(id, [identify(later, "2026-05-02T00:00:00.000Z")]));
    const traits = await traitsOf(id);
    expect(traits.address).toEqual({ city: "Lyon" });
    expect(traits.nickname).toBeNull();
    expect(Object.getOwnPropertyDescriptor(traits, "__proto__")?.value).toEqual({ admin: true });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it("does not re-time traits when a duplicate message is delivered again", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    const old = identify({ plan: "free" }, "2026-05-01T00:00:00.000Z");
    await stub.ingest(ingestInput(id, [old, identify({ plan: "pro" }, "2026-05-02T00:00:00.000Z")]));
    // The retry's corrected timestamp moved past the newer write; as a duplicate it must change nothing.
    await stub.ingest(ingestInput(id, [{ ...old, timestamp: "2026-05-03T00:00:00.000Z" }]));
    expect(await traitsOf(id)).toEqual({ plan: "pro" });
  });

  describe("their byte budget", () => {
    const at = (minute: number) => new Date(Date.parse("2026-05-01T00:00:00.000Z") + minute * 60_000).toISOString();
    /** Bytes the traits take as the budget counts them: each key and its value's JSON. */
    const bytesOf = (traits: Record<string, unknown>) =>
      Object.entries(traits).reduce((n, [k, v]) => n + utf8Bytes(k) + utf8Bytes(JSON.stringify(v)), 0);
    const note = (fill: string) => fill.repeat(8_000);
    const T_OLD = Date.parse("2026-01-01T00:00:00.000Z");
    const entry = utf8Bytes("note_00") + utf8Bytes(JSON.stringify(note("x")));

    it("keeps no more than the budget, the events every value, and changes within the room left", async () => {
      const id = freshId("prf");
      const stub = profileStub(env.PROFILE, id);
      const count = Math.floor(MAX_PROFILE_TRAIT_BYTES / entry) + 8;
      const key = (i: number) => `note_${String(i).padStart(2, "0")}`;
      // Several writes of several messages each: the room is counted across writes, not per write.
      for (let i = 0; i < count; i += 5) {
        const batch = [];
        for (let j = i; j < Math.min(i + 5, count); j++) batch.push(identify({ [key(j)]: note("x") }, at(j)));
        await stub.ingest(ingestInput(id, batch));
      }
      const full = await profileOf(id);
      const kept = Math.floor(MAX_PROFILE_TRAIT_BYTES / entry);
      expect(full.event_count).toBe(count);
      expect(Object.keys(full.traits).sort()).toEqual(Array.from({ length: kept }, (_, i) => key(i)));
      expect(bytesOf(full.traits)).toBeLessThanOrEqual(MAX_PROFILE_TRAIT_BYTES);

      // A kept value changes to one of the same size; a newer, larger one does not fit; a new small key fits the rest.
      const room = MAX_PROFILE_TRAIT_BYTES - bytesOf(full.traits);
      await stub.ingest(
        ingestInput(id, [
          identify({ note_00: note("y") }, at(100)),
          identify({ note_01: `${note("z")}${"z".repeat(room + 1)}` }, at(101)),
          identify({ tiny: "t".repeat(room - utf8Bytes("tiny") - 2) }, at(102)),
        ]),
      );
      const after = await profileOf(id);
      expect(after.traits.note_00).toBe(note("y"));
      expect(after.traits.note_01).toBe(note("x"));
      expect(bytesOf(after.traits)).toBe(MAX_PROFILE_TRAIT_BYTES);
    });

    it("keeps a merge's survivor within the budget, the loser's newest traits first", async () => {
      const survivor = freshId("prf");
      const loser = freshId("prf");
      const half = Math.floor(MAX_PROFILE_TRAIT_BYTES / entry / 2) + 2;
      const notes = (prefix: string, from: number) =>
        Array.from({ length: half }, (_, i) =>
          identify({ [`${prefix}${String(i).padStart(2, "0")}`]: note(prefix) }, at(from + i)),
        );
      await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, notes("s", 0)));
      await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, notes("l", 100)));
      await profileStub(env.PROFILE, loser).mergeInto(survivor);

      const merged = await profileOf(survivor);
      expect(merged.event_count).toBe(2 * half);
      expect(bytesOf(merged.traits)).toBeLessThanOrEqual(MAX_PROFILE_TRAIT_BYTES);
      const fromLoser = Object.keys(merged.traits)
        .filter((k) => k.startsWith("l"))
        .sort();
      expect(fromLoser.length).toBeGreaterThan(0);
      expect(fromLoser.length).toBeLessThan(half);
      // The newest of the loser's values came first: the ones kept are its last ones.
      expect(fromLoser).toEqual(
        Array.from({ length: half }, (_, i) => `l${String(i).padStart(2, "0")}`).slice(half - fromLoser.length),
      );
    });

    it("merges a profile that holds more than the budget (stored before it existed) within one RPC", async () => {
      const survivor = freshId("prf");
      const loser = freshId("prf");
      await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, [track("Seen", at(0))]));
      await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [track("Seen", at(1))]));
      // 40 MB of traits, past the runtime's 32 MiB for one RPC: written straight to storage, as no write can now.
      const rows = 4_000;
      await runInDurableObject(env.PROFILE.getByName(loser), (_: ProfileDO, state: DurableObjectState) => {
        const value = JSON.stringify("o".repeat(10_000));
        for (let i = 0; i < rows; i++)
          state.storage.sql.exec(
            "INSERT INTO traits (key, value, updated_at, received_at) VALUES (?, ?, ?, ?)",
            `old_${i}`,
            value,
            T_OLD + i,
            T_OLD + i,
          );
      });
      await profileStub(env.PROFILE, loser).mergeInto(survivor);
      const merged = await profileOf(survivor);
      expect(merged.event_count).toBe(2);
      const kept = Object.keys(merged.traits).map((k) => Number(k.slice("old_".length)));
      expect(kept.length).toBe(Math.floor(MAX_PROFILE_TRAIT_BYTES / (utf8Bytes("old_0000") + 10_002)));
      // The newest values are the ones that travelled.
      expect(Math.min(...kept)).toBe(rows - kept.length);
      expect(bytesOf(merged.traits)).toBeLessThanOrEqual(MAX_PROFILE_TRAIT_BYTES);
    });
  });
});
