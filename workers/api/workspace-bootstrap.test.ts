import type { Profile, ProfileEventsPage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { basicAuth, bearer } from "../test-support/seed";
import { api } from "../test-support/store-messages";

interface Bootstrap {
  workspace: { id: string };
  write_key: string;
  secret_key: string;
}

async function bootstrap(name: string): Promise<Bootstrap> {
  const res = await api("/v1/workspaces", bearer("admin_test"), { method: "POST", body: JSON.stringify({ name }) });
  expect(res.status).toBe(201);
  return res.json<Bootstrap>();
}

function send(writeKey: string, batch: unknown[]): Promise<Response> {
  return api("/v1/batch", basicAuth(writeKey), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ batch }),
  });
}

describe("workspace bootstrap, end to end", () => {
  it("returns keys that ingest (write key) and read the stitched profile (secret key)", async () => {
    const ws = await bootstrap("Acme");
    const sent = await send(ws.write_key, [
      { type: "track", event: "Product Viewed", anonymousId: "anon-acme", timestamp: "2025-03-01T10:00:00.000Z" },
      {
        type: "identify",
        anonymousId: "anon-acme",
        userId: "acme-7",
        traits: { email: "Max@Acme.test" },
        timestamp: "2025-03-01T10:01:00.000Z",
      },
    ]);
    expect(sent.status).toBe(200);
    expect(await sent.json()).toMatchObject({ success: true, accepted: 2, rejected: [] });

    const res = await api("/v1/profiles/email:max%40acme.test", bearer(ws.secret_key));
    expect(res.status).toBe(200);
    const profile = await res.json<Profile>();
    expect(profile.event_count).toBe(2);
    expect(profile.identifiers.map((i) => `${i.type}:${i.value}`).sort()).toEqual([
      "anonymous_id:anon-acme",
      "email:max@acme.test",
      "user_id:acme-7",
    ]);
    const events = await (
      await api(`/v1/profiles/${profile.id}/events`, bearer(ws.secret_key))
    ).json<ProfileEventsPage>();
    expect(events.data.map((m) => m.type)).toEqual(["identify", "track"]);
  });

  it("lets a write key added with POST /v1/sources ingest into the same workspace", async () => {
    const ws = await bootstrap("Two sources");
    const added = await api("/v1/sources", bearer(ws.secret_key), {
      method: "POST",
      body: JSON.stringify({ name: "app" }),
    });
    const { write_key } = await added.json<{ write_key: string }>();
    expect((await send(write_key, [{ type: "track", event: "Opened", userId: "app-user" }])).status).toBe(200);
    const res = await api("/v1/profiles/user_id:app-user", bearer(ws.secret_key));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ event_count: 1 });
  });

  it("keeps two bootstrapped workspaces apart", async () => {
    const a = await bootstrap("A");
    const b = await bootstrap("B");
    expect((await send(a.write_key, [{ type: "track", event: "Seen", userId: "same-user" }])).status).toBe(200);
    expect((await api("/v1/profiles/user_id:same-user", bearer(a.secret_key))).status).toBe(200);
    expect((await api("/v1/profiles/user_id:same-user", bearer(b.secret_key))).status).toBe(404);
    expect((await api("/v1/profiles/user_id:same-user", bearer(a.write_key))).status).toBe(401);
  });
});
