import { env } from "cloudflare:workers";
import type { AcceptedMessage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { profileOf } from "../test-support/identity-inputs";
import { D1IdentityStore } from "./d1-identity-store";
import { extractIdentifiers } from "./extract";
import { DEFAULT_IDENTITY_RULES } from "./rules";

const store = new D1IdentityStore(env.DB);
const rules = DEFAULT_IDENTITY_RULES;

const track = (anonymousId: string, userId: string): AcceptedMessage => ({
  type: "track",
  event: "Viewed",
  messageId: newId("msg"),
  anonymousId,
  userId,
  timestamp: "2025-01-01T00:00:00.000Z",
  receivedAt: "2025-01-01T00:00:00.000Z",
  context: {},
});

describe("blocked identifier values", () => {
  it("never link two visitors whose SDK sent a junk user id", async () => {
    const ws = newId("ws");
    const landed: string[] = [];
    for (const [anon, junk] of [
      ["v1", "null"],
      ["v2", "null"],
      ["v3", "0"],
      ["v4", "undefined"],
    ]) {
      const ids = extractIdentifiers(track(anon, junk), rules);
      const [outcome] = await store.resolve(ws, rules, [{ messageId: anon, identifiers: ids.identifiers, at: 1 }]);
      landed.push(profileOf(outcome));
    }
    expect(new Set(landed).size).toBe(4);
    const claimed = await env.DB.prepare("SELECT type FROM identifiers WHERE workspace_id = ?").bind(ws).all();
    expect(claimed.results.every((r) => r.type === "anonymous_id")).toBe(true);
  });

  it("applies a workspace's own blocked pattern", async () => {
    const custom = { ...rules, blockedValues: [...rules.blockedValues, "^test@"] };
    const msg = { ...track("v1", "u1"), type: "identify", traits: { email: "TEST@example.com" } } as AcceptedMessage;
    expect(extractIdentifiers(msg, custom).identifiers.map((i) => i.type)).toEqual(["user_id", "anonymous_id"]);
    expect(extractIdentifiers(msg, rules).identifiers.map((i) => i.type)).toContain("email");
  });
});
