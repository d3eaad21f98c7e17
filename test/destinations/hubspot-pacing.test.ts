/**
 * HubSpot's ten-secondly window is the account's (maps.md §1c): calls this destination's gate never saw — another app
 * or destination on the portal, this object's own before it was evicted — count in it too. HubSpot says on every
 * answer what remains of it (`X-HubSpot-RateLimit-Remaining`); the gate paces on that rather than running into 429s.
 */
import { afterAll, describe, expect, it } from "vitest";
import { type HubSpotConfig, hubspot } from "../../workers/sync/destinations/hubspot";
import type { PluginContext } from "../../workers/sync/plugin";
import { VendorGate } from "../../workers/sync/vendor-gate";
import { startMockHubSpot } from "../support/mocks/hubspot";

// HubSpot's own window: 100 calls per rolling 10 s per token.
const hs = await startMockHubSpot();
afterAll(() => hs.stop());

function pacedContext(gate: VendorGate): PluginContext<HubSpotConfig> {
  const values = new Map<string, string>();
  return {
    config: { access_token: hs.token, base_url: hs.url },
    fetch: gate.fetch,
    now: Date.now,
    store: {
      get: async (key) => values.get(key),
      put: async (key, value) => {
        values.set(key, value);
      },
    },
  };
}

describe("hubspot destination: pacing on HubSpot's rate-limit headers", () => {
  it("waits for the window another caller nearly used up instead of earning 429s", async () => {
    // 96 of the window's 100 calls were made by someone this gate does not know of.
    for (let i = 0; i < 96; i++) {
      const res = await fetch(`${hs.url}/crm/v3/objects/contacts?limit=1`, {
        headers: { authorization: `Bearer ${hs.token}` },
      });
      expect(res.status).toBe(200);
    }
    const gate = new VendorGate(hubspot.limits);
    const ctx = pacedContext(gate);
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        hubspot.upsertContacts(ctx, [{ identity: { profileId: `p${i}`, email: `c${i}@example.com` }, traits: {} }]),
      ),
    );
    expect(outcomes.flat().map((o) => o.status)).toEqual(Array(8).fill("ok"));
    // The last four waited for the window's calls to age out, rather than be refused.
    expect(hs.requests.filter((r) => r.status === 429)).toEqual([]);
  }, 30_000);
});
