import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { profileStub } from "../profile/profile-stub";
import { eventually, insertDestination, webhookReceiver } from "../test-support/destinations";
import { identify, track } from "../test-support/messages";
import { basicAuth, bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Jane browsed anonymously, logged in elsewhere, then linked both: one profile formed from two. Plus a bystander. */
async function jane() {
  const ws = await seedWorkspace();
  const [survivor, loser, , bystander] = await store(ws.workspaceId, [
    track("Product Viewed", "2025-01-01T00:00:00.000Z", { anonymousId: "anon-jane" }),
    identify({ email: "jane@example.com" }, "2025-01-02T00:00:00.000Z", { anonymousId: undefined, userId: "u-jane" }),
    identify({ plan: "pro" }, "2025-01-03T00:00:00.000Z", { anonymousId: "anon-jane", userId: "u-jane" }),
    track("Product Viewed", "2025-01-04T00:00:00.000Z", { anonymousId: "anon-bob" }),
  ]);
  const call = (path: string, method = "GET") => api(path, bearer(ws.secretKey), { method });
  return { ...ws, survivor: survivor as string, loser: loser as string, bystander: bystander as string, call };
}

describe("DELETE /v1/profiles/:ref (GDPR)", () => {
  it("answers 202 and then 404 for every read, by id, merged-away id and identifier", async () => {
    const { survivor, loser, call } = await jane();
    const res = await call("/v1/profiles/email:jane%40example.com", "DELETE");
    expect(res.status).toBe(202);
    const body = await res.json<{
      status: string;
      deletion_id: string;
      profile_ids: string[];
      suppressed_identifiers: number;
    }>();
    expect(body.status).toBe("accepted");
    expect(body.profile_ids.sort()).toEqual([survivor, loser].sort());
    expect(body.suppressed_identifiers).toBe(3);
    for (const ref of [survivor, loser, "email:jane%40example.com", "user_id:u-jane", "anonymous_id:anon-jane"]) {
      for (const suffix of ["", "/events", "/merges"]) {
        const read = await call(`/v1/profiles/${ref}${suffix}`);
        expect(read.status, `${ref}${suffix}`).toBe(404);
        expect(await read.json()).toMatchObject({ error: { code: "not_found" } });
      }
    }
    // By the id of the profile named or of one merged into it, the 404 names the deletion that erased it.
    for (const id of [survivor, loser]) {
      const byId = await call(`/v1/profiles/${id}`, "DELETE");
      expect(byId.status).toBe(404);
      expect((await byId.json<{ error: { message: string } }>()).error.message).toBe(
        `No profile matches ${id}: it was erased (GDPR delete ${body.deletion_id}, GET /v1/deletions/${body.deletion_id})`,
      );
    }
    // Sent again by an identifier, the DELETE says it was done before; one never seen says only that it is unknown.
    const again = await call("/v1/profiles/email:jane%40example.com", "DELETE");
    expect(again.status).toBe(404);
    expect((await again.json<{ error: { message: string } }>()).error.message).toBe(
      "No profile matches email:jane@example.com: it belonged to a profile that was erased (GDPR delete), and events " +
        "carrying it are dropped",
    );
    const never = await call("/v1/profiles/email:nobody%40example.com", "DELETE");
    expect((await never.json<{ error: { message: string } }>()).error.message).toBe(
      "No profile matches email:nobody@example.com",
    );
  });

  it("removes the identifiers from the graph, suppresses them and wipes both profiles' objects", async () => {
    const { workspaceId, survivor, loser, call } = await jane();
    expect((await call(`/v1/profiles/${loser}`, "DELETE")).status).toBe(202);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM identifiers WHERE profile_id IN (?, ?)")
      .bind(survivor, loser)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
    // Suppressed as keyed hashes: the types are kept, the values are not (issue 10, finding 7).
    const suppressed = await env.DB.prepare(
      "SELECT type, hash FROM suppression_hashes WHERE workspace_id = ? ORDER BY type",
    )
      .bind(workspaceId)
      .all<{ type: string; hash: string }>();
    expect(suppressed.results.map((r) => r.type)).toEqual(["anonymous_id", "email", "user_id"]);
    for (const r of suppressed.results) expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    for (const id of [survivor, loser]) {
      expect(await profileStub(env.PROFILE, id).getProfile()).toEqual({ status: "deleted" });
      expect(await profileStub(env.PROFILE, id).listEvents({ limit: 10 })).toEqual({ status: "deleted" });
    }
  });

  it("tells each destination to delete the person by every identifier of the profiles erased", async () => {
    const { workspaceId, call } = await jane();
    const hook = await webhookReceiver(200);
    await insertDestination(workspaceId, {
      type: "webhook",
      config: { url: hook.url, secret: "whsec_test_0123456789abcdef" },
      audiences: [],
    });
    expect((await call("/v1/profiles/user_id:u-jane", "DELETE")).status).toBe(202);
    const told = await eventually(async () => {
      const deletes = (await hook.received()).filter((r) => r.event.type === "profile.deleted");
      expect(deletes.length).toBeGreaterThan(0);
      return new Set(deletes.flatMap((r) => r.event.profile.identifiers.map((i) => `${i.type}:${i.value}`)));
    });
    expect(told).toEqual(new Set(["anonymous_id:anon-jane", "email:jane@example.com", "user_id:u-jane"]));
  });

  it("drops later events carrying an erased identifier, and leaves other people alone", async () => {
    const { workspaceId, bystander, call } = await jane();
    expect((await call("/v1/profiles/anonymous_id:anon-jane", "DELETE")).status).toBe(202);
    const later = await store(workspaceId, [
      track("Came Back", "2025-02-01T00:00:00.000Z", { anonymousId: "anon-jane" }),
      identify({}, "2025-02-01T00:00:00.000Z", { anonymousId: "anon-new", userId: "u-jane" }),
    ]);
    expect(later).toEqual([null, null]);
    expect((await call("/v1/profiles/anonymous_id:anon-jane")).status).toBe(404);
    expect((await call("/v1/profiles/anonymous_id:anon-new")).status).toBe(404);
    const bob = await call("/v1/profiles/anonymous_id:anon-bob");
    expect(bob.status).toBe(200);
    expect(await bob.json()).toMatchObject({ id: bystander, event_count: 1 });
  });

  it("drops later events sent to POST /v1/batch for an erased person", async () => {
    const { writeKey, call } = await jane();
    expect((await call("/v1/profiles/user_id:u-jane", "DELETE")).status).toBe(202);
    const sent = await api("/v1/batch", basicAuth(writeKey), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        batch: [
          { type: "track", event: "Came Back", userId: "u-jane" },
          { type: "identify", anonymousId: "anon-other-device", traits: { email: "JANE@example.com" } },
        ],
      }),
    });
    expect(sent.status).toBe(200);
    for (const ref of ["user_id:u-jane", "email:jane%40example.com", "anonymous_id:anon-other-device"]) {
      expect((await call(`/v1/profiles/${ref}`)).status, ref).toBe(404);
    }
  });
});
