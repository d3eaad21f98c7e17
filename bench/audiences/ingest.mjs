// Phase 1: what 25 audiences and 10 computed traits cost ingestion. Each (shape, configuration) gets its own fresh
// platform, in the order none/defs for the browser shape and defs/none for the server shape, so neither
// configuration always runs on a warmer machine.
import { browserBatch } from "../ingest/load-shapes.mjs";
import { AUDIENCES, COMPUTED_TRAITS } from "./definitions.mjs";
import { define, freshPlatform, newVisitorsServerBatch, pollUntil, sendBatches, takeRetryCount } from "./platform.mjs";

const WARMUP = { browser: 20, server: 5 };

/**
 * For a run of `batches` batches of `shape`: which audience's D1 `size` tells that every membership of the run has
 * been written (the outbox delivered), and the size it must reach.
 */
const DRAIN = {
  // Every browser visitor identifies with an email.
  browser: (visitors) => ({ key: "known_email", size: visitors }),
  // Every server-shape visitor but the probe of each batch has an Order Completed.
  server: (batches) => ({ key: "recent_buyers", size: 99 * batches }),
};

async function oneRun(shape, withDefinitions, { batches, concurrency }) {
  const platform = await freshPlatform("ingest");
  try {
    if (withDefinitions) {
      await define(platform);
      await pollUntil(
        () => platform.api("GET", "/v1/audiences"),
        (res) => res.status === 200 && res.body.data.every((a) => a.status.state === "ready"),
        { within: 30_000 },
      );
    }
    const runId = `${shape}-${withDefinitions ? "defs" : "none"}-${Date.now().toString(36)}`;
    const make = (prefix) => (n) =>
      shape === "browser" ? browserBatch(`${runId}${prefix}`, n) : newVisitorsServerBatch(`${runId}${prefix}`, n);
    await sendBatches(platform, make("w"), WARMUP[shape], concurrency);

    takeRetryCount();
    const t0 = performance.now();
    const sent = await sendBatches(platform, make("t"), batches, concurrency);
    const retried = takeRetryCount();
    const result = {
      shape,
      config: withDefinitions ? `${AUDIENCES.length} audiences + ${COMPUTED_TRAITS.length} computed` : "none",
      batches,
      events: sent.events,
      events_per_s: sent.events / sent.seconds,
      resent_after_429_503: retried,
    };
    if (withDefinitions) {
      const drain = DRAIN[shape](WARMUP[shape] + batches);
      // Best effort: a saturated local platform may not list every membership within the wait; that is a figure too.
      const drained = await pollUntil(
        () => platform.api("GET", `/v1/audiences/${drain.key}`),
        (res) => res.body?.size >= drain.size,
        { within: 90_000, every: 250 },
      ).catch(() => undefined);
      result.drained_events_per_s = drained ? sent.events / ((performance.now() - t0) / 1000) : Number.NaN;
      // The definitions were really evaluated: a profile of the run shows every computed trait and some audiences.
      const sample = await platform.profile(make("t")(0).visitor).catch(() => undefined);
      if (sample) {
        result.sample = {
          computed: Object.keys(sample.computed).length,
          audiences: sample.audiences.map((a) => a.key),
        };
      }
    }
    return result;
  } finally {
    await platform.stop();
  }
}

/** Events/s without and with definitions, per shape, and their ratio. */
export async function ingestionWithDefinitions({ browserBatches, serverBatches, concurrency }) {
  const runs = [];
  for (const [shape, defs, batches] of [
    ["browser", false, browserBatches],
    ["browser", true, browserBatches],
    ["server", true, serverBatches],
    ["server", false, serverBatches],
  ]) {
    const r = await oneRun(shape, defs, { batches, concurrency });
    console.log("ingest", r);
    runs.push(r);
  }
  return ["browser", "server"].map((shape) => {
    const none = runs.find((r) => r.shape === shape && r.config === "none");
    const defs = runs.find((r) => r.shape === shape && r.config !== "none");
    return {
      shape,
      none_events_per_s: Math.round(none.events_per_s),
      defs_events_per_s: Math.round(defs.events_per_s),
      ratio: +(defs.events_per_s / none.events_per_s).toFixed(2),
      defs_drained_events_per_s: Math.round(defs.drained_events_per_s),
      drained_ratio: +(defs.drained_events_per_s / none.events_per_s).toFixed(2),
      resent_after_429_503: `${none.resent_after_429_503} / ${defs.resent_after_429_503}`,
      batches: none.batches,
    };
  });
}
