import type { Profile } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { identify, track } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";

async function jane() {
  const ws = await seedWorkspace();
  const [profileId] = await store(ws.workspaceId, [
    track("Signed Up", "2025-01-01T00:00:00.000Z", { anonymousId: "anon-jane" }),
    identify({ email: "Jane+Tag@Example.com", plan: "pro" }, "2025-01-02T00:00:00.000Z", {
      anonymousId: "anon-jane",
      userId: "a/b c",
    }),
  ]);
  const get = (ref: string) => api(`/v1/profiles/${ref}`, bearer(ws.secretKey));
  return { ...ws, profileId: profileId as string, get };
}

describe("GET /v1/profiles/:ref", () => {
  it("returns exactly the Profile shape for a profile id", async () => {
    const { profileId, get } = await jane();
    const res = await get(profileId);
    expect(res.status).toBe(200);
    const profile = await res.json<Profile>();
    expect(Object.keys(profile).sort()).toEqual(
      [
        "audiences",
        "computed",
        "created_at",
        "event_count",
        "first_seen",
        "identifiers",
        "id",
        "last_seen",
        "merged_from",
        "traits",
        "updated_at",
      ].sort(),
    );
    expect(profile).toMatchObject({
      id: profileId,
      event_count: 2,
      first_seen: "2025-01-01T00:00:00.000Z",
      last_seen: "2025-01-02T00:00:00.000Z",
      traits: { email: "Jane+Tag@Example.com", plan: "pro" },
      merged_from: [],
    });
    expect(profile.identifiers.map(({ type, value }) => `${type}:${value}`).sort()).toEqual([
      "anonymous_id:anon-jane",
      "email:jane+tag@example.com",
      "user_id:a/b c",
    ]);
  });

  it("finds the profile by email whatever the case, URL-encoded", async () => {
    const { profileId, get } = await jane();
    for (const ref of [
      "email:jane%2Btag%40example.com",
      "email:JANE%2BTAG%40Example.COM",
      "EMAIL:jane+tag@example.com",
    ]) {
      const res = await get(ref);
      expect(res.status, ref).toBe(200);
      expect(await res.json(), ref).toMatchObject({ id: profileId });
    }
  });

  it("finds the profile by user_id and anonymous_id, with encoded slashes and spaces", async () => {
    const { profileId, get } = await jane();
    for (const ref of ["user_id:a%2Fb%20c", "anonymous_id:anon-jane", "anonymous_id%3Aanon-jane"]) {
      const res = await get(ref);
      expect(res.status, ref).toBe(200);
      expect(await res.json(), ref).toMatchObject({ id: profileId });
    }
  });

  it("does not match a user_id by a different case: only emails are case-folded", async () => {
    const { get } = await jane();
    expect((await get("user_id:A%2FB%20C")).status).toBe(404);
  });

  it("answers 404 not_found for unknown ids and identifiers", async () => {
    const { get } = await jane();
    for (const ref of ["prf_00000000000000000000", "email:nobody%40example.com", "user_id:42", "loyalty_id:L-1"]) {
      const res = await get(ref);
      expect(res.status, ref).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
    }
  });

  it("answers 400 validation_error naming the problem for malformed refs", async () => {
    const { get } = await jane();
    const cases: Array<[string, RegExp]> = [
      ["jane%40example.com", /not a profile id or type:value/],
      ["42", /not a profile id or type:value/],
      ["email:", /empty email value/],
      ["email:%20%20", /empty email value/],
      ["%3A42", /no identifier type/],
      ["e-mail:jane%40example.com", /type "e-mail" is invalid/],
      ["email:not-an-address", /email is not an address/],
      // Listed among a profile's identifiers (DESIGN §4: an attribute), but a company, never one person's key.
      ["group_id:acme", /group_id: a company that many profiles share/],
    ];
    for (const [ref, message] of cases) {
      const res = await get(ref);
      expect(res.status, ref).toBe(400);
      const body = await res.json<{ error: { code: string; message: string } }>();
      expect(body.error.code).toBe("validation_error");
      expect(body.error.message, ref).toMatch(message);
    }
  });
});
