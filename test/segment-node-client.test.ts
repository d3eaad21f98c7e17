import { Analytics } from "@segment/analytics-node";
import { describe, expect, it } from "vitest";
import { useDevServer } from "./support/dev-server";

/** Segment's own Node library, unchanged, pointed at `npm run dev`: the compatibility promise of DESIGN §3. */
describe("@segment/analytics-node against the dev server", () => {
  const dev = useDevServer();

  const read = async (path: string) => {
    const res = await fetch(`${dev().url}${path}`, { headers: { authorization: `Bearer ${dev().secretKey}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it("delivers identify, track and a batch, and the profile API shows them stitched to one person", async () => {
    const analytics = new Analytics({ writeKey: dev().writeKey, host: dev().url, flushAt: 3, flushInterval: 200 });
    const errors: unknown[] = [];
    analytics.on("error", (err) => errors.push(err));

    // Each call a second apart: called back to back they share one millisecond, and the stored time is the client's
    // corrected by each batch's own sentAt (DESIGN §3), so the two batches' order would be the network's.
    const secondsAgo = (s: number) => new Date(Date.now() - s * 1000);
    // An anonymous visitor browses, then logs in: three events flushed as one batch.
    analytics.track({
      anonymousId: "anon-node-1",
      event: "Product Viewed",
      properties: { sku: "SKU-1" },
      timestamp: secondsAgo(4),
    });
    analytics.track({
      anonymousId: "anon-node-1",
      event: "Added to Cart",
      properties: { sku: "SKU-1" },
      timestamp: secondsAgo(3),
    });
    analytics.identify({
      anonymousId: "anon-node-1",
      userId: "user-node-1",
      traits: { email: "Node.Person@Example.com", name: "Node Person" },
      timestamp: secondsAgo(2),
    });
    // Later, server-side only by user id.
    analytics.track({
      userId: "user-node-1",
      event: "Order Completed",
      properties: { total: 99.5 },
      timestamp: secondsAgo(1),
    });
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(errors).toEqual([]);

    const byEmail = await read(`/v1/profiles/${encodeURIComponent("email:node.person@example.com")}`);
    expect(byEmail.status).toBe(200);
    const profile = byEmail.body as {
      id: string;
      event_count: number;
      traits: Record<string, unknown>;
      identifiers: Array<{ type: string; value: string }>;
    };
    expect(profile.event_count).toBe(4);
    expect(profile.traits).toMatchObject({ name: "Node Person", email: "Node.Person@Example.com" });
    expect(profile.identifiers.map((i) => `${i.type}:${i.value}`).sort()).toEqual(
      ["anonymous_id:anon-node-1", "email:node.person@example.com", "user_id:user-node-1"].sort(),
    );

    // Every identifier reaches the same profile.
    for (const ref of ["user_id:user-node-1", "anonymous_id:anon-node-1"]) {
      const other = await read(`/v1/profiles/${encodeURIComponent(ref)}`);
      expect(other.body.id).toBe(profile.id);
    }

    const events = await read(`/v1/profiles/${profile.id}/events?limit=10`);
    const names = (events.body.data as Array<{ type: string; event?: string }>).map((e) => e.event ?? e.type);
    expect(names).toEqual(["Order Completed", "identify", "Added to Cart", "Product Viewed"]);
  });
});
