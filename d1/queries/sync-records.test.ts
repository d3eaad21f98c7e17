import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { emptyDrainRecord, findVendorIds, recordDrain } from "./sync-records";

const drain = emptyDrainRecord(1);

describe("recordDrain", () => {
  it("remembers vendor ids, and forgets those the vendor said it no longer knows", async () => {
    const destinationId = `dst_${crypto.randomUUID()}`;
    await recordDrain(env.DB, destinationId, {
      ...drain,
      vendorIds: [
        { email: "a@example.com", vendorId: "101" },
        { email: "b@example.com", vendorId: "102" },
      ],
      staleVendorIds: [],
    });
    await recordDrain(env.DB, destinationId, { ...drain, vendorIds: [], staleVendorIds: ["a@example.com"] });
    const known = await findVendorIds(env.DB, destinationId, ["a@example.com", "b@example.com"]);
    expect([...known]).toEqual([["b@example.com", "102"]]);
  });
});
