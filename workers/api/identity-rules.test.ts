import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { blockedBy, DEFAULT_IDENTITY_RULES, identityRulesToJson, limitFor, loadIdentityRules } from "../identity/rules";
import { bearer, seedWorkspace } from "../test-support/seed";

const url = "http://x/v1/identity-rules";
const put = (key: string, body: string) =>
  exports.default.fetch(url, {
    method: "PUT",
    headers: { authorization: bearer(key), "content-type": "application/json" },
    body,
  });

describe("identity rules API", () => {
  it("shows Segment's defaults to a new workspace", async () => {
    const { secretKey } = await seedWorkspace();
    const res = await exports.default.fetch(url, { headers: { authorization: bearer(secretKey) } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ...identityRulesToJson(DEFAULT_IDENTITY_RULES), is_default: true });
  });

  it("stores a change, keeps defaults for fields left out, and applies it in this isolate at once", async () => {
    const { workspaceId, secretKey } = await seedWorkspace();
    await loadIdentityRules(env.DB, workspaceId); // warm the isolate cache: PUT must invalidate it
    const res = await put(
      secretKey,
      JSON.stringify({ limits: { user_id: 1, email: 2 }, promoted_traits: ["loyalty_id"] }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ limits: { user_id: 1, email: 2 }, promoted_traits: ["loyalty_id"], default_limit: 5 });
    const rules = await loadIdentityRules(env.DB, workspaceId);
    expect(rules.limits).toEqual({ user_id: 1, email: 2 });
    expect(rules.promotedTraits).toEqual(["loyalty_id"]);
    const shown = await exports.default.fetch(url, { headers: { authorization: bearer(secretKey) } });
    expect(await shown.json()).toEqual(body);
  });

  it("keeps user_id at Segment's 1 when a PUT's limits name only other types; naming user_id raises it", async () => {
    const { workspaceId, secretKey } = await seedWorkspace();
    const res = await put(secretKey, JSON.stringify({ limits: { email: 2 } }));
    expect(res.status).toBe(200);
    // Replacing the map instead gave user_id the default_limit 5: two users on one device then merged.
    expect(((await res.json()) as { limits: unknown }).limits).toEqual({ user_id: 1, email: 2 });
    expect(limitFor(await loadIdentityRules(env.DB, workspaceId), "user_id")).toBe(1);
    expect((await put(secretKey, JSON.stringify({ limits: { user_id: 3 } }))).status).toBe(200);
    expect(limitFor(await loadIdentityRules(env.DB, workspaceId), "user_id")).toBe(3);
  });

  it("runs a catastrophic-backtracking pattern in linear time, and still blocks what it matches (issue 10, #3)", async () => {
    const { workspaceId, secretKey } = await seedWorkspace();
    expect((await put(secretKey, JSON.stringify({ blocked_values: ["^(a+)+$"] }))).status).toBe(200);
    const rules = await loadIdentityRules(env.DB, workspaceId);
    // On a backtracking engine this one call took 11 s and stalled every workspace's requests in the isolate.
    expect(blockedBy(rules, `${"a".repeat(31)}!`)).toBeNull();
    expect(blockedBy(rules, "a".repeat(5000))).toBe("^(a+)+$");
    expect(blockedBy(rules, "AAA")).toBe("^(a+)+$");
  });

  it("refuses patterns that need backtracking (backreferences, lookaround) with the reason", async () => {
    const { secretKey } = await seedWorkspace();
    for (const [pattern, why] of [
      ["^(a)\\1$", "invalid escape sequence"],
      ["^(?=x)", "invalid or unsupported Perl syntax"],
    ]) {
      const res = await put(secretKey, JSON.stringify({ blocked_values: ["^ok$", pattern] }));
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { message: string } };
      expect(error.message).toContain("blocked_values[1]: is not a valid pattern (RE2 syntax: no backreferences");
      expect(error.message).toContain(why);
    }
  });

  it("keeps workspaces apart", async () => {
    const a = await seedWorkspace();
    const b = await seedWorkspace();
    await put(a.secretKey, JSON.stringify({ default_limit: 9 }));
    expect((await loadIdentityRules(env.DB, b.workspaceId)).defaultLimit).toBe(5);
  });

  it("refuses a write key and a missing key with 401", async () => {
    const { writeKey } = await seedWorkspace();
    expect((await exports.default.fetch(url, { headers: { authorization: bearer(writeKey) } })).status).toBe(401);
    expect((await put(writeKey, "{}")).status).toBe(401);
    expect((await exports.default.fetch(url)).status).toBe(401);
  });

  it.each([
    ["{not json", /not valid JSON/],
    ["[]", /JSON object/],
    [JSON.stringify({ limit: { user_id: 2 } }), /^limit: unknown field/],
    [JSON.stringify({ limits: { user_id: 0 } }), /^limits\.user_id: must be an integer/],
    [JSON.stringify({ limits: { "Bad Type": 1 } }), /^limits\.Bad Type: is not a valid identifier type/],
    [
      JSON.stringify({ blocked_values: ["(unclosed"] }),
      /^blocked_values\[0\]: is not a valid pattern \(RE2 syntax: no backreferences or lookaround\): missing closing \)/,
    ],
    [JSON.stringify({ blocked_values: "null" }), /^blocked_values: must be an array/],
    [JSON.stringify({ priority: ["user_id", "user_id"] }), /^priority\[1\]: lists user_id twice/],
    [JSON.stringify({ promoted_traits: ["email"] }), /^promoted_traits\[0\]: email is a built-in identifier/],
    [JSON.stringify({ max_merges_per_profile: 1.5 }), /^max_merges_per_profile: must be an integer/],
    [JSON.stringify({ max_identifiers_per_profile: "1000" }), /^max_identifiers_per_profile: must be an integer/],
    ['{"__proto__": {"x": 1}}', /^__proto__: unknown field/],
  ])("answers 400 naming the problem for %s", async (body, message) => {
    const { secretKey } = await seedWorkspace();
    const res = await put(secretKey, body);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("validation_error");
    expect(error.message).toMatch(message);
  });
});
