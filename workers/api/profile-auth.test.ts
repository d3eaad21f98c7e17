import { describe, expect, it } from "vitest";
import { identify } from "../test-support/messages";
import { basicAuth, bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";

async function workspaceWithProfile() {
  const ws = await seedWorkspace();
  const [profileId] = await store(ws.workspaceId, [
    identify({ email: "jane@example.com" }, "2025-01-01T00:00:00.000Z", { userId: "u-42" }),
  ]);
  return { ...ws, profileId: profileId as string };
}

describe("profile API auth", () => {
  it("answers 401 without credentials", async () => {
    const { profileId } = await workspaceWithProfile();
    const res = await api(`/v1/profiles/${profileId}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "authentication_error" } });
  });

  it("answers 401 to the workspace's own write key, on every route", async () => {
    const { profileId, writeKey } = await workspaceWithProfile();
    for (const [method, path] of [
      ["GET", `/v1/profiles/${profileId}`],
      ["GET", `/v1/profiles/${profileId}/events`],
      ["GET", `/v1/profiles/${profileId}/merges`],
      ["DELETE", `/v1/profiles/${profileId}`],
    ]) {
      for (const auth of [bearer(writeKey), basicAuth(writeKey)]) {
        const res = await api(path, auth, { method });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(await res.json()).toMatchObject({ error: { code: "authentication_error" } });
      }
    }
  });

  it("accepts the secret key as Bearer and as Basic user", async () => {
    const { profileId, secretKey } = await workspaceWithProfile();
    for (const auth of [bearer(secretKey), basicAuth(secretKey)]) {
      const res = await api(`/v1/profiles/${profileId}`, auth);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: profileId });
    }
  });

  it("answers 404 to another workspace's secret key for every read and delete, and deletes nothing", async () => {
    const owner = await workspaceWithProfile();
    const other = await seedWorkspace("other");
    const refs = [owner.profileId, "email:jane%40example.com", "user_id:u-42"];
    for (const ref of refs) {
      for (const [method, suffix] of [
        ["GET", ""],
        ["GET", "/events"],
        ["GET", "/merges"],
        ["DELETE", ""],
      ]) {
        const res = await api(`/v1/profiles/${ref}${suffix}`, bearer(other.secretKey), { method });
        expect(res.status, `${method} ${ref}${suffix}`).toBe(404);
        const body = await res.json<Record<string, unknown>>();
        // Only the envelope: nothing of the profile, not even that it exists elsewhere.
        expect(Object.keys(body)).toEqual(["error"]);
        expect(body).toMatchObject({ error: { code: "not_found" } });
      }
    }
    const still = await api(`/v1/profiles/${owner.profileId}`, bearer(owner.secretKey));
    expect(still.status).toBe(200);
  });
});
