import { describe, expect, it } from "vitest";
import { MessageIdLedger } from "./message-ids";

describe("MessageIdLedger", () => {
  it("lets each id through once per content: new ids and the same message again, not other content", () => {
    const ledger = new MessageIdLedger();
    const mug = { event: "Order Completed", properties: { sku: "MUG" } };
    expect(ledger.claim("R-1", mug, 1)).toBeNull();
    expect(ledger.claim("R-2", { ...mug }, 2)).toBeNull();
    expect(ledger.claim("R-1", { event: "Order Completed", properties: { sku: "MUG" } }, 3)).toBeNull();
    expect(ledger.claim("R-1", { event: "Order Completed", properties: { sku: "TEA" } }, 4)).toMatch(
      /^messageId "R-1" is row 1's already, with other content: the collector would keep only the first/,
    );
  });
});
