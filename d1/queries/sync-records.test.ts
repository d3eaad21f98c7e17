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

describe("findVendorIds", () => {
  it("looks up a whole vendor batch of emails (more than D1 binds in one query)", async () => {
    const destinationId = `dst_${crypto.randomUUID()}`;
    const emails = Array.from({ length: 250 }, (_, i) => `p${i}@example.com`);
    await recordDrain(env.DB, destinationId, {
      ...drain,
      vendorIds: emails.map((email, i) => ({ email, vendorId: String(1000 + i) })),
    });
    const known = await findVendorIds(env.DB, destinationId, [...emails, "unknown@example.com"]);
    expect(known.size).toBe(250);
    expect(known.get("p249@example.com")).toBe("1249");
  });
});
