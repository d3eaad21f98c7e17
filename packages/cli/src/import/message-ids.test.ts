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

  it("keeps every id as it grows past its first table: the first ids still clash, and still pass unchanged", () => {
    const ledger = new MessageIdLedger();
    const receipt = (n: number, sku = "MUG") => ({ event: "Order Completed", properties: { receipt: n, sku } });
    const ids = 50_000;
    for (let n = 1; n <= ids; n++) expect(ledger.claim(`R-${n}`, receipt(n), n)).toBeNull();
    for (const n of [1, 2, 4_097, ids]) {
      expect(ledger.claim(`R-${n}`, receipt(n), ids + n)).toBeNull();
      expect(ledger.claim(`R-${n}`, receipt(n, "TEA"), ids + n)).toMatch(
        new RegExp(`^messageId "R-${n}" is row ${n}'s`),
      );
    }
    expect(ledger.claim(`R-${ids + 1}`, receipt(ids + 1, "TEA"), ids + 1)).toBeNull();
  });
});
