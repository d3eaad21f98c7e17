/**
 * A destination whose address answers with a redirect (DESIGN §7: nothing accepted may be lost). Followed, the POST
 * would reach the `Location` as a bodiless GET whose 200 counts the event delivered, and hand that host the signature.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Destination, DestinationTestResult } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { listSyncLog } from "../../d1/queries/sync-records";
import { eventually, insertDestination, webhookReceiver } from "../test-support/destinations";
import { freshId } from "../test-support/messages";
import { membershipOp } from "../test-support/recording-vendor";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";
import { destinationStub } from "./consumer";
import type { DestinationDO } from "./destination-do";
import { Redirected } from "./plugin";
import { pluginFor } from "./registry";

const SECRET = "whsec_test_0123456789abcdef";

/** Every request the receiver got at `url`, whatever its method or body. */
async function requestsTo(url: string): Promise<Array<{ method: string; headers: Record<string, string> }>> {
  const res = await fetch(`http://receiver.test/__mock/requests?path=${new URL(url).pathname}`);
  return res.json();
}

describe("a webhook destination whose url redirects", () => {
  it("keeps the event queued, pauses the destination naming the redirect, and sends nothing to the Location", async () => {
    const target = await webhookReceiver(200);
    const hook = await webhookReceiver({ status: 301, headers: { location: target.url } });
    const ws = await seedWorkspace();
    const id = await insertDestination(ws.workspaceId, {
      type: "webhook",
      config: { url: hook.url, secret: SECRET },
      audiences: ["vip"],
    });
    const profileId = freshId("prf");
    await destinationStub(env, id).enqueue(id, [membershipOp(profileId, "vip", 1)]);

    const redirect = `${hook.url} redirects to ${target.url} (HTTP 301)`;
    const read = await eventually(async () => {
      await runDurableObjectAlarm(env.DESTINATION.getByName(id));
      const res = await api(`/v1/destinations/${id}`, bearer(ws.secretKey));
      const destination = await res.json<Destination>();
      expect(destination.status.last_error).toContain(redirect);
      return destination;
    });
    expect(read.status).toMatchObject({ pending: 1, delivered: 0, failed: 0, dead_letters: 0 });
    // Paused until someone fixes the url, not retried every few seconds into the same redirect.
    expect(Date.parse(read.status.paused_until ?? "")).toBeGreaterThan(Date.now() + 60_000);
    expect((await requestsTo(hook.url)).map((r) => r.method)).toContain("POST");
    expect(await requestsTo(target.url)).toEqual([]);
    const synced = await runInDurableObject(env.DESTINATION.getByName(id), (_o: DestinationDO, state) =>
      state.storage.sql.exec("SELECT profile_id FROM synced WHERE profile_id = ?", profileId).toArray(),
    );
    expect(synced).toEqual([]);
    const log = await listSyncLog(env.DB, id, { limit: 10 });
    expect(log.length).toBeGreaterThan(0);
    expect(log.filter((row) => row.outcome !== "retry")).toEqual([]);
  });

  it("fails its connection test naming the redirect, and sends nothing to the Location", async () => {
    const target = await webhookReceiver(200);
    const hook = await webhookReceiver({ status: 302, headers: { location: target.url } });
    const ws = await seedWorkspace();
    const id = await insertDestination(ws.workspaceId, {
      type: "webhook",
      config: { url: hook.url, secret: SECRET },
      audiences: ["vip"],
      enabled: false,
    });

    const res = await api(`/v1/destinations/${id}/test`, bearer(ws.secretKey), { method: "POST" });
    expect(res.status).toBe(200);
    const result = await res.json<DestinationTestResult>();
    expect(result.ok).toBe(false);
    expect(result.message).toContain(`${hook.url} redirects to ${target.url} (HTTP 302)`);
    expect(await requestsTo(target.url)).toEqual([]);
  });
});

describe("a MAP whose base_url redirects", () => {
  const CONFIGS: Record<string, Record<string, string>> = {
    hubspot: { access_token: "pat-na1-0123456789abcdef", base_url: "https://api.hubapi.test" },
    mailchimp: { api_key: "0123456789abcdef-us21", list_id: "a6b5da1054", base_url: "https://us21.mailchimp.test/3.0" },
    klaviyo: { api_key: "pk_0123456789abcdef", base_url: "https://a.klaviyo.test" },
    marketo: { base_url: "https://123-ABC-456.mktorest.test", client_id: "id", client_secret: "marketo_secret_0123" },
  };

  // The redirect is the whole destination's wrong address: the plugin passes it up, and the engine pauses the
  // destination with it as `last_error` (as above), instead of each item spending its attempts on a retry.
  it.each(Object.keys(CONFIGS))("%s passes the redirect up instead of retrying each item", async (type) => {
    const plugin = pluginFor(type);
    if (!plugin) throw new Error(`no plugin ${type}`);
    const stored = new Map<string, string>();
    const ctx = {
      config: CONFIGS[type],
      fetch: async (input: RequestInfo | URL) => {
        const url = input instanceof Request ? input.url : String(input);
        throw new Redirected(url, 301, "https://elsewhere.test/");
      },
      now: () => Date.now(),
      store: { get: async (k: string) => stored.get(k), put: async (k: string, v: string) => void stored.set(k, v) },
    };
    const item = { identity: { profileId: "prf_1", email: "ann@example.com" }, traits: { first_name: "Ann" } };
    await expect(plugin.upsertContacts(ctx as never, [item])).rejects.toBeInstanceOf(Redirected);
  });
});
