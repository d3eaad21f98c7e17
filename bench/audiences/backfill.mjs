// Phase 3: backfill rate. `profiles` profiles are stored first (server-shape batches of 100 new visitors), then an
// audience is created; its `status` is polled until "ready" and its `size` until it holds every expected member.
import { LAPSED_STORE_BUYERS } from "./definitions.mjs";
import { freshPlatform, newVisitorsServerBatch, pollUntil, sendBatches, takeRetryCount } from "./platform.mjs";

export async function backfillRate({ profiles, concurrency, waitSeconds }) {
  const platform = await freshPlatform("backfill");
  try {
    const batches = Math.ceil(profiles / 100);
    const runId = `backfill-${Date.now().toString(36)}`;
    const stored = await sendBatches(platform, (n) => newVisitorsServerBatch(runId, n), batches, concurrency);
    console.log(
      `backfill: stored ${stored.events} events (${batches * 100} profiles) in ${stored.seconds.toFixed(1)} s`,
    );
    // Each batch's last visitor only has its `Probe <n>` event: not a pos buyer.
    const expected = batches * 99;

    const t0 = performance.now();
    const created = await platform.api("POST", "/v1/audiences", {
      key: "lapsed_store_buyers",
      definition: LAPSED_STORE_BUYERS,
    });
    if (created.status !== 201 && !(created.status === 409 && created.resent > 0))
      throw new Error(`POST /v1/audiences answered ${created.status}: ${JSON.stringify(created.body)}`);
    const read = () => platform.api("GET", "/v1/audiences/lapsed_store_buyers").then((r) => r.body);
    // Not ready in time is a result too (a page retried with backoff after a failure holds `ready` back).
    const ready = await pollUntil(read, (a) => a?.status?.state === "ready", {
      within: waitSeconds * 1000,
      every: 250,
    }).catch(async (err) => {
      console.error(`backfill: not ready after ${waitSeconds} s: ${err.message.slice(0, 200)}`);
      return read();
    });
    const readySeconds = (performance.now() - t0) / 1000;
    if (ready.status.state !== "ready") {
      return {
        profiles: ready.status.total,
        state: ready.status.state,
        processed: ready.status.processed,
        seconds: waitSeconds,
      };
    }
    const sizeAtReady = ready.size;
    // The members are written to D1 by each profile's outbox, after its evaluation: `size` may trail `ready`.
    const full = await pollUntil(read, (a) => a?.size >= expected, { within: 120_000, every: 250 }).catch(
      async (err) => {
        console.error(`backfill: size never reached ${expected}: ${err.message}`);
        return read();
      },
    );
    const sizeSeconds = (performance.now() - t0) / 1000;
    return {
      profiles: ready.status.total,
      seconds_to_ready: +readySeconds.toFixed(1),
      profiles_per_s: Math.round(ready.status.total / readySeconds),
      size_at_ready: sizeAtReady,
      expected_size: expected,
      final_size: full.size,
      seconds_to_full_size: +sizeSeconds.toFixed(1),
      ingest_profiles_per_s: Math.round((batches * 100) / stored.seconds),
      ingest_resent_after_429_503: takeRetryCount(),
    };
  } finally {
    await platform.stop();
  }
}
