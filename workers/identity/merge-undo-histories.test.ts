/**
 * Merges and their undo over random histories: a few visitors' anonymous ids, user ids and emails, sent in SDK-sized
 * batches whose messages link them in any order (so profiles are created and merged within one request, chains of
 * merges form, an email arrives on both sides), through the production pipeline; then every merge is undone, in a
 * random order. At each stage the identity graph and the profiles' objects must agree: every identifier a profile
 * lists resolves to that profile and no other lists it, every identifier the graph knows is listed, `merged_from`
 * matches the live journal, and every event is on exactly one profile. Seeded, so a failure names its history.
 */
import { env } from "cloudflare:workers";
import type { AcceptedMessage, Profile, ProfileMerges } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { freshId } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { seededRandom } from "../test-support/seeded-random";
import { api } from "../test-support/store-messages";

/** Histories with three or four merges each (of 40 tried), chains and merges within one request among them. */
const SEEDS = [72271, 96028, 103947, 111866, 198975, 222732, 230651, 246489, 254408];

/** A history of `seed`: its batches, and every identifier its messages can carry. */
function history(seed: number, tag: string) {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const anons = [0, 1, 2, 3, 4].map((i) => `a${i}-${tag}`);
  const users = [0, 1].map((i) => `u${i}-${tag}`);
  const emails = [0, 1, 2].map((i) => `e${i}-${tag}@example.com`);
  let minute = 0;
  const message = (): AcceptedMessage => {
    const identify = random() < 0.5;
    const at = new Date(Date.UTC(2026, 0, 1, 0, minute++)).toISOString();
    const m: Record<string, unknown> = identify
      ? { type: "identify", traits: {} }
      : { type: "track", event: pick(["Viewed", "Checkout"]), properties: {} };
    Object.assign(m, { messageId: freshId("msg"), timestamp: at, receivedAt: at, context: {} });
    if (random() < 0.9) m.anonymousId = pick(anons);
    if (random() < 0.3 || m.anonymousId === undefined) m.userId = pick(users);
    if (random() < 0.4) {
      const email = pick(emails);
      if (identify) m.traits = { email };
      else m.context = { traits: { email } };
    }
    return m as unknown as AcceptedMessage;
  };
  const batches = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
    Array.from({ length: 4 + Math.floor(random() * 7) }, message),
  );
  const identifiers = [
    ...anons.map((v) => `anonymous_id:${v}`),
    ...users.map((v) => `user_id:${v}`),
    ...emails.map((v) => `email:${v}`),
  ];
  return { batches, identifiers, shuffle: <T>(list: T[]) => list.sort(() => random() - 0.5) };
}

describe("merge undo over random histories", { timeout: 60_000 }, () => {
  it.each(SEEDS)("keeps the graph and the profiles in agreement, merged and undone (seed %i)", async (seed) => {
    const ws = await seedWorkspace(`merge-histories-${seed}`);
    const { batches, identifiers, shuffle } = history(seed, crypto.randomUUID().slice(0, 8));
    for (const batch of batches) {
      const items = batch.map((message, index) => ({ index, message }));
      const report = await ingestMessages(ingestDepsFor(env), ws.workspaceId, items);
      expect(report.failed).toEqual([]);
      expect(report.rejected).toEqual([]);
    }
    const sent = batches.flat().length;
    const read = async <T>(path: string) => (await api(path, bearer(ws.secretKey))).json<T>();

    /** The graph's owner of each identifier it knows, checked against what each profile lists. */
    const agreement = async (stage: string) => {
      const owners = new Map<string, string>();
      for (const ref of identifiers) {
        const res = await api(`/v1/profiles/${encodeURIComponent(ref)}`, bearer(ws.secretKey));
        if (res.status === 200) owners.set(ref, (await res.json<Profile>()).id);
      }
      const listedBy = new Map<string, string>();
      let events = 0;
      for (const id of new Set(owners.values())) {
        const profile = await read<Profile>(`/v1/profiles/${id}`);
        expect(profile.id, stage).toBe(id);
        events += profile.event_count;
        for (const { type, value } of profile.identifiers) {
          const ref = `${type}:${value}`;
          expect(listedBy.get(ref), `${stage}: ${ref} listed by two profiles`).toBeUndefined();
          listedBy.set(ref, id);
          expect(owners.get(ref), `${stage}: ${ref} listed by ${id}`).toBe(id);
        }
        const { data } = await read<ProfileMerges>(`/v1/profiles/${id}/merges`);
        const live = data.filter((m) => m.undone_at === null).map((m) => m.from);
        expect([...profile.merged_from].sort(), `${stage}: merged_from of ${id}`).toEqual(live.sort());
      }
      expect([...listedBy.keys()].sort(), `${stage}: listed identifiers`).toEqual([...owners.keys()].sort());
      expect(events, `${stage}: events on profiles`).toBe(sent);
      return new Set(owners.values());
    };

    const profiles = await agreement("merged");
    const merges = new Map<string, string>();
    for (const id of profiles) {
      for (const m of (await read<ProfileMerges>(`/v1/profiles/${id}/merges`)).data) {
        if (m.undone_at === null) merges.set(m.id, m.from);
      }
    }
    for (const mergeId of shuffle([...merges.keys()])) {
      const res = await api(`/v1/merges/${mergeId}/undo`, bearer(ws.secretKey), { method: "POST" });
      expect(res.status, `undo ${mergeId}`).toBe(200);
    }
    expect(merges.size, "the history merges").toBeGreaterThanOrEqual(3);
    const split = await agreement("undone");
    expect(split.size).toBe(profiles.size + merges.size);
  });
});
