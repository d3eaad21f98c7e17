/**
 * The activation benchmark's two phases on one fresh `wrangler dev` (see run.mjs for the options):
 *
 * - latency: profiles enter an audience synced to a webhook receiver and the HubSpot mock, one at a time and then
 *   as a burst; for each, the time from the membership change (its `at`, the profile object's clock) to the first
 *   request the vendor received about that profile;
 * - throughput: many profiles enter audiences synced to HubSpot, Mailchimp and Marketo (and, per member one request,
 *   Klaviyo), each mock with its real limits; per vendor, requests and members per second while the engine had a
 *   backlog, as a share of what the vendor allows, and the 429s after the first window.
 */

import { devKeys } from "../../scripts/local-platform.mjs";
import { startMockHubSpot } from "../../test/support/mocks/hubspot";
import { startMockKlaviyo } from "../../test/support/mocks/klaviyo";
import { startMockMailchimp } from "../../test/support/mocks/mailchimp";
import { startMockMarketo } from "../../test/support/mocks/marketo";
import { type RecordedRequest, startMockVendor } from "../../test/support/mocks/mock-vendor";
import type { WebhookEvent } from "../../workers/sync/destinations/webhook";
import { freshPlatform, pct, pollUntil, sendBatches } from "../audiences/platform.mjs";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const num = (name: string, fallback: number) => Number(arg(name, String(fallback)));
const only = new Set(arg("only", "latency,throughput").split(","));
const runId = Date.now().toString(36);
const ms = (x: number) => Math.round(x);

const platform = await freshPlatform("activation");

async function created(route: string, body: unknown) {
  const res = await platform.api("POST", route, body);
  if (res.status !== 201) throw new Error(`POST ${route} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

const identify = (userId: string, traits: Record<string, unknown>) => ({
  type: "identify",
  userId,
  traits,
  timestamp: new Date().toISOString(),
});

async function latency(profiles: number, burst: number) {
  /** By email: when the webhook received the entry, and when the membership changed (the event's `at`). */
  const arrivals = new Map<string, { at: number; changeAt: number }>();
  const receiver = await startMockVendor((app) => {
    app.post("/hook", async (c) => {
      const event = await c.req.json<WebhookEvent>();
      const email = event.profile.identifiers.find((i) => i.type === "email")?.value;
      if (event.type === "audience.entered" && email && !arrivals.has(email)) {
        arrivals.set(email, { at: Date.now(), changeAt: Date.parse(event.at) });
      }
      return c.text("ok");
    });
  });
  const hubspot = await startMockHubSpot();
  try {
    await created("/v1/audiences", { key: "lat", definition: { trait: "lat", op: "eq", value: true } });
    await created("/v1/destinations", {
      type: "webhook",
      name: "latency hook",
      config: { url: `${receiver.url}/hook`, secret: "whsec_bench_0123456789abcdef" },
      audiences: ["lat"],
    });
    await created("/v1/destinations", {
      type: "hubspot",
      name: "latency hubspot",
      config: { access_token: hubspot.token, base_url: hubspot.url },
      audiences: ["lat"],
    });
    const email = (i: number) => `lat-${runId}-${i}@example.com`;
    // One at a time, as a live site sends them.
    for (let i = 0; i < profiles; i++) {
      await platform.batch({ batch: [identify(`lat-${i}`, { email: email(i), lat: true })] });
      await new Promise((r) => setTimeout(r, 150));
    }
    await pollUntil(
      async () => ({ hook: arrivals.size, hubspot: hubspot.listMembers("tessera_lat").length }),
      (n: { hook: number; hubspot: number }) => n.hook >= profiles && n.hubspot >= profiles,
      { within: 120_000 },
    );
    const single = measure(
      hubspot.requests,
      arrivals,
      Array.from({ length: profiles }, (_, i) => email(i)),
    );
    // A burst: `burst` profiles entering within a second or two (the realistic worst case of a campaign send).
    const before = arrivals.size;
    await sendBatches(
      platform,
      (n: number) => ({
        body: {
          batch: Array.from({ length: 50 }, (_, k) =>
            identify(`burst-${n * 50 + k}`, { email: email(profiles + n * 50 + k), lat: true }),
          ),
        },
      }),
      Math.ceil(burst / 50),
      4,
    );
    await pollUntil(
      async () => ({ hook: arrivals.size, hubspot: hubspot.listMembers("tessera_lat").length }),
      (n: { hook: number; hubspot: number }) => n.hook >= before + burst && n.hubspot >= profiles + burst,
      { within: 180_000 },
    );
    const burstRows = measure(
      hubspot.requests,
      arrivals,
      Array.from({ length: burst }, (_, i) => email(profiles + i)),
    );
    // How long the burst's changes took to happen (its own ingestion): on one local workerd, a change made early in
    // the burst waits through the rest of it (see bench/README.md, Activation).
    const changedAt = Array.from({ length: burst }, (_, i) => arrivals.get(email(profiles + i))?.changeAt ?? []).flat();
    const spread = Math.max(...changedAt) - Math.min(...changedAt);
    console.table({
      "one at a time": single,
      [`burst of ${burst}`]: { ...burstRows, "changes spread over ms": ms(spread) },
    });
  } finally {
    await Promise.all([receiver.stop(), hubspot.stop()]);
  }
}

/**
 * p50/p99 of membership change → webhook request, and change → first HubSpot request naming the profile's email
 * (the upsert before listing), over `emails`.
 */
function measure(
  requests: RecordedRequest[],
  arrivals: Map<string, { at: number; changeAt: number }>,
  emails: string[],
) {
  const webhook: number[] = [];
  const hub: number[] = [];
  for (const email of emails) {
    const arrival = arrivals.get(email);
    if (!arrival) continue;
    webhook.push(arrival.at - arrival.changeAt);
    const first = requests.find((r) => r.body.includes(email));
    if (first) hub.push(first.at - arrival.changeAt);
  }
  return {
    "webhook p50 ms": ms(pct(webhook, 50)),
    "webhook p99 ms": ms(pct(webhook, 99)),
    "hubspot p50 ms": ms(pct(hub, 50)),
    "hubspot p99 ms": ms(pct(hub, 99)),
    samples: webhook.length,
  };
}

async function throughput(profiles: number, audiences: number, klaviyoProfiles: number) {
  const [hubspot, mailchimp, klaviyo, marketo] = await Promise.all([
    startMockHubSpot(),
    startMockMailchimp(),
    startMockKlaviyo(),
    startMockMarketo(),
  ]);
  // A storm first: every vendor refuses everything (its own throttling answer) while the members enter, so each
  // destination builds a backlog without spending retries (local ingestion is far slower than these vendors allow).
  // Then the vendors open with their real limits, and the engine's pace against them is measured from there.
  const klaviyoDefaults = new Map(
    Object.entries(klaviyo.limits).map(([k, { burst, steady }]) => [k, [burst.limit, steady.limit]]),
  );
  const storm = (on: boolean) => {
    hubspot.limiter.limit = on ? 0 : 100;
    marketo.limiter.limit = on ? 0 : 100;
    mailchimp.limiter.enabled = on;
    mailchimp.limiter.limit = 0;
    for (const [k, { burst, steady }] of Object.entries(klaviyo.limits)) {
      const [b, st] = klaviyoDefaults.get(k) as number[];
      burst.limit = on ? 0 : b;
      steady.limit = on ? 0 : st;
    }
  };
  try {
    const keys = Array.from({ length: audiences }, (_, i) => `tp_${i}`);
    for (const key of keys) await created("/v1/audiences", { key, definition: { trait: "tp", op: "eq", value: true } });
    await created("/v1/audiences", { key: "tpk", definition: { trait: "tpk", op: "eq", value: true } });
    const ids: string[] = [];
    const destination = async (type: string, config: Record<string, unknown>, on: string[]) => {
      const body = { type, name: `throughput ${type}`, config, audiences: on, traits: ["first_name"] };
      ids.push(((await created("/v1/destinations", body)) as { id: string }).id);
    };
    await destination("hubspot", { access_token: hubspot.token, base_url: hubspot.url }, keys);
    await destination(
      "mailchimp",
      { api_key: mailchimp.apiKey, list_id: mailchimp.listId, base_url: `${mailchimp.url}/3.0` },
      keys,
    );
    await destination(
      "marketo",
      {
        base_url: marketo.url,
        client_id: marketo.clientId,
        client_secret: marketo.clientSecret,
        folder_id: marketo.folderId,
      },
      keys,
    );
    await destination("klaviyo", { api_key: klaviyo.apiKey, base_url: klaviyo.url }, ["tpk"]);

    storm(true);
    const sent = await sendPatiently(
      (n: number) => ({
        body: {
          batch: Array.from({ length: 100 }, (_, k) => {
            const i = n * 100 + k;
            return identify(`tp-${i}`, {
              email: `tp-${runId}-${i}@example.com`,
              first_name: `P${i}`,
              tp: true,
              tpk: i < klaviyoProfiles,
            });
          }),
        },
      }),
      Math.ceil(profiles / 100),
      2,
    );
    console.log(`ingested ${sent.events} profiles in ${sent.seconds.toFixed(1)} s (${keys.length} audiences each)`);
    // Every membership is waiting in its destination's object.
    const expected = [profiles * audiences, profiles * audiences, profiles * audiences, klaviyoProfiles];
    type Listed = { data: Array<{ id: string; status: { pending: number } }> };
    // By id: the latency phase's destinations are listed too when both phases run on one platform.
    await pollUntil(
      async () => {
        const { data } = (await platform.api("GET", "/v1/destinations")).body as Listed;
        return ids.map((id) => data.find((d) => d.id === id)?.status.pending ?? 0);
      },
      (pending: number[]) => expected.every((n, i) => pending[i] >= n),
      { within: 10 * 60_000, every: 2_000 },
    );
    const t0 = Date.now();
    storm(false);
    console.log("backlog in place; vendors open");
    const lists = keys.map((k) => `tessera_${k}`);
    await pollUntil(
      async () => ({
        hubspot: lists.every((l) => hubspot.listMembers(l).length >= profiles),
        mailchimp: lists.every((l) => (mailchimp.segmentMembers(l)?.length ?? 0) >= profiles),
        marketo: lists.every((l) => marketo.listMembers(l).length >= profiles),
        klaviyo: klaviyo.listMembers("tessera_tpk").length >= klaviyoProfiles,
      }),
      (s: Record<string, boolean>) => Object.values(s).length === 4 && Object.values(s).every((v) => v === true),
      { within: 30 * 60_000, every: 500 },
    );
    const rows = {
      // Allowed: HubSpot 100 requests / 10 s; Marketo 100 / 20 s; Klaviyo profile-import 750 / min (one per member).
      hubspot: paceOf(hubspot.requests, { perSecond: 10, windowMs: 10_000 }, profiles * audiences, t0),
      // Marketo throttles inside an HTTP 200 (606): its refusals come from its limiter, not the status log.
      marketo: paceOf(
        marketo.requests.filter((r) => r.path.startsWith("/rest/")),
        { perSecond: 5, windowMs: 20_000 },
        profiles * audiences,
        t0,
        marketo.limiter.refusedAt,
      ),
      klaviyo: paceOf(klaviyo.requests, { perSecond: 12.5, windowMs: 60_000 }, klaviyoProfiles, t0),
      // Mailchimp allows 10 connections, no request rate: the share is the mean of connections in use.
      mailchimp: paceOf(mailchimp.requests, { connections: 10, windowMs: 0 }, profiles * audiences, t0),
    };
    console.table(rows);
  } finally {
    await Promise.all([hubspot.stop(), mailchimp.stop(), klaviyo.stop(), marketo.stop()]);
  }
}

/**
 * Sends `count` batches made by `make(n)`, `concurrency` in flight, each sent again after a 429 or 503 (the collector's
 * "not finished in time, retry" on a busy machine), as Segment's clients do; messages accepted and seconds taken.
 */
async function sendPatiently(make: (n: number) => { body: unknown }, count: number, concurrency: number) {
  const { writeKey } = devKeys({});
  const authorization = `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`;
  let next = 0;
  let events = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) {
      const payload = JSON.stringify(make(next++).body);
      for (let attempt = 1; ; attempt++) {
        const res = await fetch(`${platform.url}/v1/batch`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization },
          body: payload,
        });
        const text = await res.text();
        if (res.status === 200) {
          events += (JSON.parse(text) as { accepted: number }).accepted;
          break;
        }
        if ((res.status !== 429 && res.status !== 503) || attempt === 20) {
          throw new Error(`/v1/batch answered ${res.status}: ${text.slice(0, 300)}`);
        }
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { events, seconds: (performance.now() - t0) / 1000 };
}

/**
 * What the engine achieved against one vendor: from its first request to its last, requests/s (2xx) and members/s,
 * the share of the vendor's allowed rate (or connections), and 429s after the first window.
 */
function paceOf(
  requests: RecordedRequest[],
  allowed: { perSecond?: number; connections?: number; windowMs: number },
  members: number,
  t0: number,
  refusedAt: number[] = requests.filter((r) => r.status === 429).map((r) => r.at),
) {
  const mine = requests.filter((r) => r.at >= t0);
  const first = mine[0]?.at ?? t0;
  const last = Math.max(...mine.map((r) => r.answeredAt ?? r.at));
  const seconds = (last - first) / 1000;
  const ok = mine.filter((r) => (r.status ?? 0) < 300).length;
  const busy = mine.reduce((sum, r) => sum + ((r.answeredAt ?? r.at) - r.at), 0) / 1000;
  const share = allowed.perSecond ? ok / seconds / allowed.perSecond : busy / seconds / (allowed.connections ?? 1);
  return {
    seconds: Number(seconds.toFixed(1)),
    // How many of the vendor's windows the run spans: a run within one window can burst past the average rate.
    windows: allowed.windowMs ? Number((seconds / (allowed.windowMs / 1000)).toFixed(1)) : "—",
    requests: mine.length,
    "2xx req/s": Number((ok / seconds).toFixed(2)),
    "members/s": Math.round(members / seconds),
    "share of allowed": Number(share.toFixed(2)),
    throttled: refusedAt.filter((at) => at >= t0).length,
    "throttled after 1st window": refusedAt.filter((at) => at > first + allowed.windowMs).length,
  };
}

try {
  if (only.has("latency")) await latency(num("latency-profiles", 100), num("burst", 200));
  if (only.has("throughput"))
    await throughput(num("profiles", 2000), num("audiences", 5), num("klaviyo-profiles", 600));
} catch (err) {
  // A stalled phase is explained by what the dev server said last (the local queue's refusals were, once).
  console.error(`wrangler dev's last output:\n${platform.output().slice(-5_000)}`);
  throw err;
} finally {
  await platform.stop();
}
