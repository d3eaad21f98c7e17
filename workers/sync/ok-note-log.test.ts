/**
 * A success that left something out says so in the sync log (DESIGN §7 log `error`): HubSpot upserting a contact
 * without a property it lacks answers `ok` with a note, and the member's log line (add or upsert) carries it.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { listSyncLog } from "../../d1/queries/sync-records";
import { membershipOp, recordingVendor } from "../test-support/recording-vendor";
import { marketo } from "./destinations/marketo";
import type { Outcome } from "./plugin";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the sync log", { timeout: 60_000 }, () => {
  it("carries the note of an ok upsert on the member's line, once listed", async () => {
    const vendor = await recordingVendor(["a1"]);
    const note = "HubSpot has no property lifetime_value: left out (create the property in HubSpot to sync it)";
    vi.mocked(marketo.upsertContacts).mockImplementation(async (_ctx, items) =>
      items.map((i): Outcome => ({ status: "ok", vendorId: `lead:${i.identity.email}`, note })),
    );
    await vendor.enqueue([membershipOp("prf_note", "a1", 1)]);
    await vendor.drainAll();
    const log = await listSyncLog(env.DB, vendor.destinationId, { limit: 10 });
    expect(log.map((l) => [l.action, l.outcome, l.error])).toEqual([["add", "ok", note]]);
  });
});
