// Phase 2: how soon membership shows in `GET /v1/profiles/:ref` after the event that causes it, and after a window
// boundary passes with no event (DESIGN §6 goal: ≤ 1 s). One fresh platform holding the 25 audiences and 10 computed
// traits of phase 1, plus `quiet_30s` (no Ping in 30 s).
import { AUDIENCES, COMPUTED_TRAITS, QUIET_30S } from "./definitions.mjs";
import { define, freshPlatform, pct, pollUntil } from "./platform.mjs";

const WINDOW_MS = 30_000;
const sleepUntil = (epochMs) => new Promise((r) => setTimeout(r, Math.max(0, epochMs - Date.now())));
const iso = (ms) => new Date(ms).toISOString();
const summary = (xs) => ({
  p50: +pct(xs, 50).toFixed(0),
  p99: +pct(xs, 99).toFixed(0),
  max: Math.round(Math.max(...xs)),
  n: xs.length,
});

/** POST start → the profile read that first shows `lapsed_store_buyers`, for `profiles` in-store orders. */
async function afterEvent(platform, runId, profiles, concurrency) {
  const lags = [];
  let firstRead = 0;
  let next = 0;
  async function worker() {
    while (next < profiles) {
      const userId = `${runId}-event-${next++}`;
      const t0 = performance.now();
      const now = Date.now();
      await platform.batch({
        batch: [
          {
            type: "track",
            userId,
            event: "Order Completed",
            properties: { channel: "pos", total: 30 },
            timestamp: iso(now),
          },
        ],
        sentAt: iso(now),
      });
      for (let reads = 1; ; reads++) {
        const p = await platform.profile(`user_id:${userId}`);
        if (p?.audiences.some((a) => a.key === "lapsed_store_buyers")) {
          lags.push(performance.now() - t0);
          if (reads === 1) firstRead++;
          break;
        }
        if (reads > 2000) throw new Error(`${userId} never entered lapsed_store_buyers`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ...summary(lags), in_first_read: firstRead };
}

/**
 * Pings backdated so that `quiet_30s` takes profile i in at `boundaries[i]` (no `sentAt`: the collector keeps such a
 * `timestamp` exactly), sent as batches of 100 profiles.
 */
async function sendPings(platform, users, boundaries) {
  for (let i = 0; i < users.length; i += 100) {
    await platform.batch({
      batch: users.slice(i, i + 100).map((userId, j) => ({
        type: "track",
        userId,
        event: "Ping",
        timestamp: iso(boundaries[i + j] - WINDOW_MS),
      })),
    });
  }
}

const sinceOf = (p) => p?.audiences?.find((a) => a.key === QUIET_30S.key)?.since;

/**
 * Boundaries `spacing` ms apart from `lead` ms after sending: each profile is polled from just before its boundary,
 * so the reads stay few. Measures read-visible − boundary, and the object's own `since` − boundary.
 */
async function afterBoundary(platform, runId, profiles, { lead, spacing, every = 25 }) {
  const users = Array.from({ length: profiles }, (_, i) => `${runId}-boundary-${i}`);
  const t0 = Date.now() + lead;
  const boundaries = users.map((_, i) => t0 + i * spacing);
  await sendPings(platform, users, boundaries);
  if (Date.now() > boundaries[0] - 500) throw new Error("sending the pings took longer than --boundary-lead allows");
  const visible = [];
  const flipped = [];
  let early = 0;
  await Promise.all(
    users.map(async (userId, i) => {
      await sleepUntil(boundaries[i] - 100);
      for (;;) {
        const p = await platform.profile(`user_id:${userId}`);
        const since = sinceOf(p);
        if (since !== undefined) {
          const at = Date.now();
          if (at < boundaries[i]) early++;
          visible.push(at - boundaries[i]);
          flipped.push(Date.parse(since) - boundaries[i]);
          return;
        }
        await new Promise((r) => setTimeout(r, every));
      }
    }),
  );
  return { visible: summary(visible), flipped: summary(flipped), early };
}

/** Every profile's boundary at the same instant: the alarms of `profiles` objects come due together. */
async function burstAtBoundary(platform, runId, profiles, lead) {
  const users = Array.from({ length: profiles }, (_, i) => `${runId}-burst-${i}`);
  const boundary = Date.now() + lead;
  await sendPings(
    platform,
    users,
    users.map(() => boundary),
  );
  await sleepUntil(boundary + 1_000);
  const flipped = [];
  let next = 0;
  async function worker() {
    while (next < users.length) {
      const userId = users[next++];
      const p = await pollUntil(
        () => platform.profile(`user_id:${userId}`),
        (profile) => sinceOf(profile) !== undefined,
        { within: 60_000, every: 100 },
      );
      flipped.push(Date.parse(sinceOf(p)) - boundary);
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
  return summary(flipped);
}

/** Lag figures, one row per measure: p50/p99/max in ms over n profiles. */
export async function membershipLag({ profiles, concurrency, lead, spacing, burst }) {
  const platform = await freshPlatform("lag");
  const rows = [];
  const row = (measure, figures) => {
    rows.push({ measure, ...figures });
    console.log("lag", measure, figures);
  };
  try {
    await define(platform, { computed: COMPUTED_TRAITS, audiences: [...AUDIENCES, QUIET_30S] });
    const runId = `lag-${Date.now().toString(36)}`;
    row("event: POST start → read shows it (1 in flight)", await afterEvent(platform, `${runId}-1`, profiles, 1));
    if (concurrency > 1) {
      row(
        `event: POST start → read shows it (${concurrency} in flight)`,
        await afterEvent(platform, `${runId}-c`, profiles, concurrency),
      );
    }
    const boundary = await afterBoundary(platform, runId, profiles, { lead, spacing });
    row(`boundary (${spacing} ms apart): → read shows it`, { ...boundary.visible, early: boundary.early });
    row(`boundary (${spacing} ms apart): → object's since`, boundary.flipped);
    if (burst > 0)
      row(`boundary shared by ${burst}: → object's since`, await burstAtBoundary(platform, runId, burst, lead));
    return { definitions: `${AUDIENCES.length + 1} audiences + ${COMPUTED_TRAITS.length} computed`, rows };
  } finally {
    await platform.stop();
  }
}
