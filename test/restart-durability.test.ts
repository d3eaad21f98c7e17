import { describe, expect, it } from "vitest";
import { secretApi } from "./support/dev-api";
import { type DevServer, useDevServer } from "./support/dev-server";

const PROFILES = 12;
const BATCHES = 30;
const PER_BATCH = 40;
const IN_FLIGHT = 6;
/** The crash comes once this many batches were answered, with the next ones in flight. */
const KILL_AFTER = 8;

interface Sent {
  messages: Array<{ messageId: string; anonymousId: string }>;
  body: string;
}

/** One batch of tracks spread over the profiles; every message has its own messageId, as an SDK sets it. */
function batchOf(run: string, n: number): Sent {
  const batch = Array.from({ length: PER_BATCH }, (_, i) => ({
    type: "track",
    event: "Restart Probe",
    anonymousId: `${run}-p${(n * PER_BATCH + i) % PROFILES}`,
    messageId: `${run}-b${n}-m${i}`,
    properties: { batch: n, index: i },
  }));
  return { messages: batch, body: JSON.stringify({ batch }) };
}

/**
 * Posts like an SDK's queue does: the same batch (same messageIds) again and again until it gets a 200, waiting a
 * little longer each time; network errors (the server is gone) and 5xx/429 are retried, anything else is a failure.
 */
async function sendUntilAccepted(
  server: DevServer,
  sent: Sent,
  counts: { answered: number; inFlight: number; unanswered: number },
): Promise<number> {
  const auth = `Basic ${Buffer.from(`${server.writeKey}:`).toString("base64")}`;
  const deadline = Date.now() + 120_000;
  for (let attempt = 1; ; attempt++) {
    counts.inFlight++;
    try {
      const res = await fetch(`${server.url}/v1/batch`, {
        method: "POST",
        headers: { authorization: auth, "content-type": "application/json" },
        body: sent.body,
      }).finally(() => counts.inFlight--);
      if (res.ok) {
        const body = (await res.json()) as { accepted: number };
        counts.answered++;
        return body.accepted;
      }
      if (res.status < 500 && res.status !== 429) throw new Error(`refused (${res.status}): ${await res.text()}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("refused")) throw err;
      // No answer: the request may or may not have been stored. Sending it again is safe (messageIds).
      counts.unanswered++;
    }
    if (Date.now() > deadline) throw new Error(`batch ${sent.messages[0].messageId} got no 200 within 120 s`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** attempt)));
  }
}

describe("restart durability (kill -9 mid-ingest)", () => {
  const dev = useDevServer();

  it("loses nothing and stores nothing twice when the server is killed with batches in flight", async () => {
    const run = `r${Date.now().toString(36)}`;
    const batches = Array.from({ length: BATCHES }, (_, n) => batchOf(run, n));
    const counts = { answered: 0, inFlight: 0, unanswered: 0 };
    let next = 0;
    const sender = async () => {
      while (next < batches.length) {
        const sent = batches[next++];
        expect(await sendUntilAccepted(dev(), sent, counts)).toBe(PER_BATCH);
      }
    };
    const senders = Array.from({ length: IN_FLIGHT }, sender);

    // Crash once some batches are answered and the next ones are in flight, then come back on the same state.
    while (counts.answered < KILL_AFTER) await new Promise((resolve) => setTimeout(resolve, 10));
    const inFlightAtKill = counts.inFlight;
    await dev().kill();
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(counts.answered).toBeLessThan(BATCHES);
    await dev().restart();
    await Promise.all(senders);
    // The requests cut off by the kill (and those sent while the server was down) were sent again.
    expect(counts.unanswered).toBeGreaterThanOrEqual(inFlightAtKill);

    // Every message stored exactly once: each profile lists each of its messageIds once, and its counter agrees.
    const expected = new Map<string, Array<{ messageId: string }>>();
    for (const m of batches.flatMap((sent) => sent.messages)) {
      expected.set(m.anonymousId, [...(expected.get(m.anonymousId) ?? []), m]);
    }
    let total = 0;
    for (const [anon, messages] of expected) {
      const ids = messages.map((m) => m.messageId);
      const ref = encodeURIComponent(`anonymous_id:${anon}`);
      const profile = await secretApi<{ event_count: number }>(dev(), "GET", `/v1/profiles/${ref}`);
      const events = await secretApi<{ data: Array<{ messageId: string }> }>(
        dev(),
        "GET",
        `/v1/profiles/${ref}/events?limit=1000`,
      );
      const stored = events.body.data.map((e) => e.messageId);
      expect(stored.sort(), anon).toEqual([...ids].sort());
      expect(profile.body.event_count, anon).toBe(ids.length);
      total += stored.length;
    }
    expect(total).toBe(BATCHES * PER_BATCH);
  });
});
