// Phase 4: what a long history costs one profile's ingest. Audiences and computed traits are recomputed from the
// profile's event log in the commit of every write (workers/profile/audience-state.ts): an event node stops after
// `count.value + 1` events, but a computed trait reads every matching event of its window. So a profile that collects
// events for years — a till's shared "walk-in customer" id, a B2B account, a crawler's anonymous id — pays for its
// whole history on each batch. This phase grows one profile to `events` events in batches of 250 (one in flight, as
// an import of that profile's rows meets it) and reports the time per batch at each size: once with no definition,
// once with a lifetime `sum` computed trait over the same events.
import { freshPlatform } from "./platform.mjs";

const BATCH = 250;
const LIFETIME_SPEND = {
  key: "lifetime_spend",
  definition: { op: "sum", event: "Order Completed", property: "total" },
};

/** Receipts n … n + 249 of `userId`, dated in the past year (oldest first), so no window or future date is involved. */
function receipts(userId, n) {
  const start = Date.now() - 365 * 86_400_000;
  return {
    batch: Array.from({ length: BATCH }, (_, i) => ({
      type: "track",
      userId,
      event: "Order Completed",
      messageId: `${userId}-${n + i}`,
      properties: { total: 10 + ((n + i) % 90), channel: "pos" },
      timestamp: new Date(start + (n + i) * 60_000).toISOString(),
    })),
  };
}

/** Grows `userId` to `events`; the mean time of the batches just before each size in `marks`. */
async function grow(platform, userId, events, marks) {
  const rows = [];
  let window = [];
  for (let n = 0; n < events; n += BATCH) {
    const t0 = performance.now();
    await platform.batch(receipts(userId, n));
    window.push(performance.now() - t0);
    if (marks.includes(n + BATCH)) {
      const recent = window.slice(-8);
      rows.push({ events: n + BATCH, ms_per_batch: Math.round(recent.reduce((a, b) => a + b, 0) / recent.length) });
      window = [];
    }
  }
  return rows;
}

export async function longHistory({ events }) {
  const marks = [2_500, 10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000].filter((m) => m <= events);
  const platform = await freshPlatform("history");
  try {
    const runId = Date.now().toString(36);
    const plain = await grow(platform, `plain-${runId}`, events, marks);
    const res = await platform.api("POST", "/v1/computed-traits", LIFETIME_SPEND);
    if (res.status !== 201) throw new Error(`POST /v1/computed-traits answered ${res.status}`);
    const withTrait = await grow(platform, `spender-${runId}`, events, marks);
    const spender = await platform.profile(`user_id:spender-${runId}`);
    return {
      rows: marks.map((m, i) => ({
        events: m,
        no_definition_ms: plain[i]?.ms_per_batch,
        lifetime_sum_ms: withTrait[i]?.ms_per_batch,
      })),
      // The trait's value, to check the run counted every event: Σ (10 + n mod 90) over n < events.
      lifetime_spend: spender?.computed?.lifetime_spend,
    };
  } finally {
    await platform.stop();
  }
}
