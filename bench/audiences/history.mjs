// Phase 4: what a long history costs one profile's ingest. Audiences and computed traits are recomputed from the
// profile's event log in the commit of every write (workers/profile/audience-state.ts): an event node stops after
// `count.value + 1` events, but a computed trait reads every matching event of its window. So a profile that collects
// events for years — a till's shared "walk-in customer" id, a B2B account, a crawler's anonymous id — pays for its
// whole history on each batch. This phase grows one profile to `events` events in batches of 250 (one in flight, as
// an import of that profile's rows meets it) and reports the time per batch at each size: once with no definition,
// once with a lifetime `sum` computed trait over the same events; then that profile's first batch after each of three
// idle spells that let the runtime evict its object.
import { freshPlatform } from "./platform.mjs";

const BATCH = 250;
/** The computed trait of the second profile: a lifetime `op` over the receipts' totals (`--history-op`). */
const lifetimeTrait = (op) => ({
  key: `lifetime_${op}`,
  definition: { op, event: "Order Completed", ...(op === "count" ? {} : { property: "total" }) },
});

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

/**
 * The same profile's next batches, each after `idleSeconds` without a request: long enough for the runtime to evict
 * the object (~10 s idle in `wrangler dev`), so each batch meets a cold object, as a till's sparse sales do on
 * Cloudflare. Only what is stored survives an eviction (`workers/profile/trait-memo.ts`).
 */
async function wakeUps(platform, userId, events, idleSeconds) {
  const times = [];
  for (let k = 0; k < 3; k++) {
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const t0 = performance.now();
    await platform.batch(receipts(userId, events + k * BATCH));
    times.push(Math.round(performance.now() - t0));
  }
  return times;
}

export async function longHistory({ events, idleSeconds = 20, op = "sum" }) {
  const marks = [2_500, 10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000].filter((m) => m <= events);
  const platform = await freshPlatform("history");
  try {
    const runId = Date.now().toString(36);
    const plain = await grow(platform, `plain-${runId}`, events, marks);
    const res = await platform.api("POST", "/v1/computed-traits", lifetimeTrait(op));
    if (res.status !== 201) throw new Error(`POST /v1/computed-traits answered ${res.status}`);
    const withTrait = await grow(platform, `spender-${runId}`, events, marks);
    const afterIdle = await wakeUps(platform, `spender-${runId}`, events, idleSeconds);
    const spender = await platform.profile(`user_id:spender-${runId}`);
    return {
      rows: marks.map((m, i) => ({
        events: m,
        no_definition_ms: plain[i]?.ms_per_batch,
        with_trait_ms: withTrait[i]?.ms_per_batch,
      })),
      // The first batch after each of three idle spells, with the trait (ms).
      with_trait_after_idle_ms: afterIdle,
      // The trait's value, to check the run counted every event (for sum: Σ (10 + n mod 90) over n < events + 750).
      [`lifetime_${op}`]: spender?.computed?.[`lifetime_${op}`],
    };
  } finally {
    await platform.stop();
  }
}
