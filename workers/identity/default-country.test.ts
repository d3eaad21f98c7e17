import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bearer, seedWorkspace } from "../test-support/seed";
import { post, uid } from "../test-support/worker-requests";
import { identityStoreFor } from "./cached-identity-store";

const rulesUrl = "http://x/v1/identity-rules";
const putRules = (secretKey: string, body: unknown) =>
  exports.default.fetch(rulesUrl, {
    method: "PUT",
    headers: { authorization: bearer(secretKey), "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** Identifies a fresh visitor with `phone`; resolves to the visitor's anonymous id once stored. */
async function visitorWithPhone(writeKey: string, phone: string): Promise<string> {
  const anonymousId = uid("anon");
  const res = await post("/v1/identify", { anonymousId, traits: { phone } }, { key: writeKey });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ accepted: 1 });
  return anonymousId;
}

const profileOf = (workspaceId: string, anonymousId: string) =>
  identityStoreFor(env).findProfile(workspaceId, { type: "anonymous_id", value: anonymousId });

describe("identity rules: default_country", () => {
  it("makes 020 7946 0000 and +44 20 7946 0000 one person once the workspace's default is GB", async () => {
    const ws = await seedWorkspace();
    const res = await putRules(ws.secretKey, { default_country: "GB" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ default_country: "GB", is_default: false });
    const shown = await exports.default.fetch(rulesUrl, { headers: { authorization: bearer(ws.secretKey) } });
    expect(await shown.json()).toMatchObject({ default_country: "GB" });

    const national = await visitorWithPhone(ws.writeKey, "020 7946 0000");
    const international = await visitorWithPhone(ws.writeKey, "+44 20 7946 0000");
    const profile = await profileOf(ws.workspaceId, national);
    expect(profile).not.toBeNull();
    expect(await profileOf(ws.workspaceId, international)).toBe(profile);
    const read = await exports.default.fetch(`http://x/v1/profiles/phone:${encodeURIComponent("+442079460000")}`, {
      headers: { authorization: bearer(ws.secretKey) },
    });
    expect(read.status).toBe(200);
    const body = await read.json<{ identifiers: Array<{ type: string; value: string }> }>();
    expect(body.identifiers.filter((i) => i.type === "phone")).toEqual([
      expect.objectContaining({ type: "phone", value: "+442079460000" }),
    ]);
    // The profile API reads a national number as the collector stored it: with the workspace's country.
    const byNational = await exports.default.fetch(
      `http://x/v1/profiles/phone:${encodeURIComponent("020 7946 0000")}`,
      {
        headers: { authorization: bearer(ws.secretKey) },
      },
    );
    expect(byNational.status).toBe(200);
    expect(await byNational.json()).toMatchObject({ id: profile });
  });

  it("without a default country keeps a national number as a trait only: it links nobody", async () => {
    const ws = await seedWorkspace();
    const shown = await exports.default.fetch(rulesUrl, { headers: { authorization: bearer(ws.secretKey) } });
    expect(await shown.json()).toMatchObject({ default_country: null, is_default: true });
    const first = await visitorWithPhone(ws.writeKey, "020 7946 0000");
    const second = await visitorWithPhone(ws.writeKey, "020 7946 0000");
    expect(await profileOf(ws.workspaceId, first)).not.toBe(await profileOf(ws.workspaceId, second));
    const read = await exports.default.fetch(`http://x/v1/profiles/anonymous_id:${first}`, {
      headers: { authorization: bearer(ws.secretKey) },
    });
    const profile = await read.json<{ identifiers: Array<{ type: string }>; traits: Record<string, unknown> }>();
    expect(profile.traits).toMatchObject({ phone: "020 7946 0000" });
    expect(profile.identifiers.map((i) => i.type)).toEqual(["anonymous_id"]);
    const byNational = await exports.default.fetch(
      `http://x/v1/profiles/phone:${encodeURIComponent("020 7946 0000")}`,
      {
        headers: { authorization: bearer(ws.secretKey) },
      },
    );
    expect(byNational.status).toBe(400);
    expect(await byNational.json()).toMatchObject({
      error: { message: expect.stringMatching(/no country code .* set no default_country/) },
    });
  });

  it("can be cleared with null or by leaving it out", async () => {
    const ws = await seedWorkspace();
    await putRules(ws.secretKey, { default_country: "GB" });
    expect(await (await putRules(ws.secretKey, { default_country: null })).json()).toMatchObject({
      default_country: null,
    });
    await putRules(ws.secretKey, { default_country: "US" });
    expect(await (await putRules(ws.secretKey, {})).json()).toMatchObject({ default_country: null });
  });

  it.each([["gb"], ["GBR"], [44], [""]])("refuses default_country %j with 400 naming the field", async (value) => {
    const ws = await seedWorkspace();
    const res = await putRules(ws.secretKey, { default_country: value });
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe("validation_error");
    expect(error.message).toMatch(/^default_country: must be an ISO 3166-1 alpha-2 country code/);
  });
});
