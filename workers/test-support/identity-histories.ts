/**
 * Random identity histories for property tests: a few visitors' anonymous ids, user ids and emails, sent in SDK-sized
 * batches whose messages link them in any order (so profiles are created and merged within one request, chains of
 * merges form, an email arrives on both sides). Seeded, so a failure names its history. And the check that the
 * identity graph and the profiles' objects agree, read through the API as a user would.
 */

import { env } from "cloudflare:workers";
import type { AcceptedMessage, Profile, ProfileMerges } from "@tessera/protocol";
import { expect } from "vitest";
import { ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { freshId } from "./messages";
import { bearer, seedWorkspace } from "./seed";
import { seededRandom } from "./seeded-random";
import { api } from "./store-messages";

export interface IdentityHistory {
  batches: AcceptedMessage[][];
  /** Every identifier the history's messages can carry, as profile refs (`email:…`). */
  identifiers: string[];
  /** Shuffles `list` in place with the history's generator. */
  shuffle<T>(list: T[]): T[];
  /** A number in [0, 1) from the history's generator. */
  random(): number;
}

/** The history of `seed`; `tag` makes its identifiers unique to one test. */
export function identityHistory(seed: number, tag: string): IdentityHistory {
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
  return { batches, identifiers, shuffle: (list) => list.sort(() => random() - 0.5), random };
}

/**
 * Checks, through the API with `secretKey`, that the graph and the profiles agree on `identifiers`: each one a
 * profile lists resolves to that profile and no other lists it, every one the graph knows is listed, `merged_from`
 * equals the live merge journal, and the profiles hold `events` events together (unless `events` is undefined).
 * Returns the live profiles' ids.
 * `stage` names the moment in failures.
 */
export async function expectGraphAndProfilesAgree(
  secretKey: string,
  identifiers: string[],
  events: number | undefined,
  stage: string,
): Promise<Set<string>> {
  const read = async <T>(path: string) => (await api(path, bearer(secretKey))).json<T>();
  // Read at once (each read is a round trip; a loaded CI machine makes them slow, not wrong), checked in order.
  const resolved = await Promise.all(
    identifiers.map(async (ref) => {
      const res = await api(`/v1/profiles/${encodeURIComponent(ref)}`, bearer(secretKey));
      return [ref, res.status === 200 ? (await res.json<Profile>()).id : undefined] as const;
    }),
  );
  const owners = new Map(resolved.filter((r): r is readonly [string, string] => r[1] !== undefined));
  const ids = [...new Set(owners.values())];
  const views = await Promise.all(
    ids.map(async (id) => ({
      id,
      profile: await read<Profile>(`/v1/profiles/${id}`),
      merges: await read<ProfileMerges>(`/v1/profiles/${id}/merges`),
    })),
  );
  const listedBy = new Map<string, string>();
  let held = 0;
  for (const { id, profile, merges } of views) {
    expect(profile.id, stage).toBe(id);
    held += profile.event_count;
    for (const { type, value } of profile.identifiers) {
      const ref = `${type}:${value}`;
      expect(listedBy.get(ref), `${stage}: ${ref} listed by two profiles`).toBeUndefined();
      listedBy.set(ref, id);
      expect(owners.get(ref), `${stage}: ${ref} listed by ${id}`).toBe(id);
    }
    const live = merges.data.filter((m) => m.undone_at === null).map((m) => m.from);
    expect([...profile.merged_from].sort(), `${stage}: merged_from of ${id}`).toEqual(live.sort());
  }
  expect([...listedBy.keys()].sort(), `${stage}: listed identifiers`).toEqual([...owners.keys()].sort());
  if (events !== undefined) expect(held, `${stage}: events on profiles`).toBe(events);
  return new Set(ids);
}

/**
 * Sends `messages` through the production pipeline as many 3-message requests at once, as concurrent SDK batches
 * arrive, and checks that each request stored everything.
 */
export async function sendAsSmallRequests(workspaceId: string, messages: AcceptedMessage[]): Promise<void> {
  const requests = [];
  for (let i = 0; i < messages.length; i += 3) requests.push(messages.slice(i, i + 3));
  const reports = await Promise.all(
    requests.map((batch) =>
      ingestMessages(
        ingestDepsFor(env),
        workspaceId,
        batch.map((message, index) => ({ index, message })),
      ),
    ),
  );
  for (const report of reports) {
    expect(report.failed).toEqual([]);
    expect(report.rejected).toEqual([]);
  }
}

/**
 * A new workspace (`name`) holding history `seed`, sent as concurrent small requests and checked (graph and objects
 * agree), and a second history over the same identifiers for a test to send while something else runs (an undo, an
 * erase). `held`: the live profiles after the first.
 */
export async function historyThenAnother(name: string, seed: number) {
  const ws = await seedWorkspace(name);
  const tag = crypto.randomUUID().slice(0, 8);
  const first = identityHistory(seed, tag);
  const second = identityHistory(seed + 1, tag);
  const firstMessages = first.batches.flat();
  await sendAsSmallRequests(ws.workspaceId, firstMessages);
  const held = await expectGraphAndProfilesAgree(ws.secretKey, first.identifiers, firstMessages.length, "first sent");
  return { ws, first, second, firstMessages, secondMessages: second.batches.flat(), held };
}
