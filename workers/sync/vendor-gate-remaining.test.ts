/**
 * A vendor that says on every answer what remains of its account-wide window (HubSpot's
 * `X-HubSpot-RateLimit-Remaining`): the gate heeds the header the plugin's limits name (`remainingHeader`), and
 * knows none of its own, so another vendor's header of that name changes nothing.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { VendorGate } from "./vendor-gate";

afterEach(() => {
  vi.restoreAllMocks();
});

const realFetch = globalThis.fetch;

/**
 * Answers `https://vendor.test/…` with these headers; every other request goes out as usual (the runtime is shared
 * with other files' destination objects, whose requests must not be answered from here).
 */
function vendorAnswering(headers: Record<string, string>) {
  vi.spyOn(globalThis, "fetch").mockImplementation((input, init) =>
    String(input instanceof Request ? input.url : input).startsWith("https://vendor.test/")
      ? Promise.resolve(new Response("ok", { headers }))
      : realFetch(input, init),
  );
}

const LIMITS = { concurrency: 1, rate: { limit: 10, perMs: 1000 } };
/** The window, stretched as the gate stretches it for transit jitter. */
const WINDOW_MS = 1045;

describe("VendorGate and the vendor's remaining-requests header", () => {
  it("counts the requests the vendor says were made elsewhere when the plugin names the header", async () => {
    vendorAnswering({ "X-Window-Remaining": "0" });
    const now = 1_000_000;
    const gate = new VendorGate({ ...LIMITS, remainingHeader: "X-Window-Remaining" }, { now: () => now });
    await gate.fetch("https://vendor.test/x");
    // One request of its own, yet none left: the next waits for the window.
    expect(gate.waitMs()).toBe(WINDOW_MS);
  });

  it("ignores such a header when its plugin names none", async () => {
    vendorAnswering({ "X-HubSpot-RateLimit-Remaining": "0", "X-Window-Remaining": "0" });
    const now = 1_000_000;
    const gate = new VendorGate(LIMITS, { now: () => now });
    await gate.fetch("https://vendor.test/x");
    expect(gate.waitMs()).toBe(0);
  });
});
