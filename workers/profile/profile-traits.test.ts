import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, identify, ingestInput, track } from "../test-support/messages";
import { profileStub } from "./profile-stub";

async function traitsOf(id: string) {
  const read = await profileStub(env.PROFILE, id).getProfile();
  if (read.status !== "ok") throw new Error(read.status);
  return read.profile.traits;
}

describe("ProfileDO traits", () => {
  it("keeps the newer value when an older identify arrives after a newer one", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    await stub.ingest(ingestInput(id, [identify({ plan: "pro", name: "Jane" }, "2026-05-02T00:00:00.000Z")]));
    await stub.ingest(ingestInput(id, [identify({ plan: "free", company: "Acme" }, "2026-05-01T00:00:00.000Z")]));
    // plan: the late, older write loses; company: nobody set it before, so the older write still lands.
    expect(await traitsOf(id)).toEqual({ plan: "pro", name: "Jane", company: "Acme" });
  });

  it("resolves traits by event time within one batch, whatever the order", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    await stub.ingest(
      ingestInput(id, [
        identify({ plan: "team" }, "2026-05-03T00:00:00.000Z"),
        identify({ plan: "free" }, "2026-05-01T00:00:00.000Z"),
      ]),
    );
    expect(await traitsOf(id)).toEqual({ plan: "team" });
  });

  it("breaks a timestamp tie in favour of the later received message", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    const at = "2026-05-01T00:00:00.000Z";
    await stub.ingest(ingestInput(id, [identify({ plan: "late" }, at, { receivedAt: "2026-05-01T00:00:09.000Z" })]));
    await stub.ingest(ingestInput(id, [identify({ plan: "early" }, at, { receivedAt: "2026-05-01T00:00:01.000Z" })]));
    expect(await traitsOf(id)).toEqual({ plan: "late" });
  });

  it("lets the later message of one batch win when event and arrival times tie", async () => {
    const id = freshId("prf");
    const at = "2026-05-01T00:00:00.000Z";
    await profileStub(env.PROFILE, id).ingest(
      ingestInput(id, [identify({ plan: "first" }, at), identify({ plan: "second" }, at)]),
    );
    expect(await traitsOf(id)).toEqual({ plan: "second" });
  });

  it("takes context.traits from any message type, but not a group call's traits", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    const group = {
      ...identify({}, "2026-05-01T00:00:00.000Z"),
      type: "group",
      groupId: "g1",
      traits: { employees: 50 },
    } as unknown as ReturnType<typeof identify>;
    await stub.ingest(
      ingestInput(id, [
        track("Viewed", "2026-05-01T00:00:00.000Z", { context: { traits: { email: "j@example.com" } } }),
        group,
      ]),
    );
    expect(await traitsOf(id)).toEqual({ email: "j@example.com" });
  });

  it("replaces a top-level trait whole, keeps nulls and keys like __proto__ as data", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    await stub.ingest(
      ingestInput(id, [identify({ address: { city: "Paris", zip: "75001" } }, "2026-05-01T00:00:00.000Z")]),
    );
    const later = JSON.parse('{"address":{"city":"Lyon"},"nickname":null,"__proto__":{"admin":true}}');
    await stub.ingest(ingestInput(id, [identify(later, "2026-05-02T00:00:00.000Z")]));
    const traits = await traitsOf(id);
    expect(traits.address).toEqual({ city: "Lyon" });
    expect(traits.nickname).toBeNull();
    expect(Object.getOwnPropertyDescriptor(traits, "__proto__")?.value).toEqual({ admin: true });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it("does not re-time traits when a duplicate message is delivered again", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    const old = identify({ plan: "free" }, "2026-05-01T00:00:00.000Z");
    await stub.ingest(ingestInput(id, [old, identify({ plan: "pro" }, "2026-05-02T00:00:00.000Z")]));
    // The retry's corrected timestamp moved past the newer write; as a duplicate it must change nothing.
    await stub.ingest(ingestInput(id, [{ ...old, timestamp: "2026-05-03T00:00:00.000Z" }]));
    expect(await traitsOf(id)).toEqual({ plan: "pro" });
  });
});
