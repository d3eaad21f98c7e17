import { exports } from "cloudflare:workers";
import type { DestinationTestResult } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { webhookReceiver } from "../test-support/destinations";
import { bearer, seedWorkspace } from "../test-support/seed";

function call(path: string, key: string, body: unknown): Promise<Response> {
  return exports.default.fetch(`http://x${path}`, {
    method: "POST",
    headers: { authorization: bearer(key), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

const SECRET = "whsec_0123456789abcdef";

describe("POST /v1/destinations/test", () => {
  it("says the connection works when the vendor accepts the call", async () => {
    const ws = await seedWorkspace();
    const hook = await webhookReceiver(200);
    const res = await call("/v1/destinations/test", ws.secretKey, {
      type: "webhook",
      config: { url: hook.url, secret: SECRET },
    });
    expect(res.status).toBe(200);
    expect(await res.json<DestinationTestResult>()).toMatchObject({ ok: true });
    expect(await hook.received()).toHaveLength(1);
  });

  it("answers ok: false with the vendor's refusal, not an HTTP error", async () => {
    const ws = await seedWorkspace();
    const hook = await webhookReceiver(403);
    const res = await call("/v1/destinations/test", ws.secretKey, {
      type: "webhook",
      config: { url: hook.url, secret: SECRET },
    });
    expect(res.status).toBe(200);
    const result = await res.json<DestinationTestResult>();
    expect(result.ok).toBe(false);
    expect(result.message).toContain("403");
  });

  it("refuses an unknown type or a config the type refuses, naming the field", async () => {
    const ws = await seedWorkspace();
    const badType = await call("/v1/destinations/test", ws.secretKey, { type: "fax", config: {} });
    expect(badType.status).toBe(400);
    expect(await badType.json()).toMatchObject({ error: { message: expect.stringContaining("fax") } });
    const badConfig = await call("/v1/destinations/test", ws.secretKey, {
      type: "webhook",
      config: { url: "https://x.test", secret: "short" },
    });
    expect(badConfig.status).toBe(400);
    expect(await badConfig.json()).toMatchObject({ error: { message: expect.stringContaining("config.secret") } });
  });
});

describe("POST /v1/destinations/:id/test", () => {
  it("tests the saved config, and an edit sent with the secret masked keeps the saved secret", async () => {
    const ws = await seedWorkspace();
    const hook = await webhookReceiver(200);
    const created = await call("/v1/destinations", ws.secretKey, {
      type: "webhook",
      name: "hook",
      config: { url: hook.url, secret: SECRET },
      audiences: [],
    });
    expect(created.status).toBe(201);
    const destination = await created.json<{ id: string; config: { url: string; secret: string } }>();
    const saved = await call(`/v1/destinations/${destination.id}/test`, ws.secretKey, {});
    expect(await saved.json()).toMatchObject({ ok: true });
    const other = await webhookReceiver(200);
    const edit = await call(`/v1/destinations/${destination.id}/test`, ws.secretKey, {
      config: { url: other.url, secret: destination.config.secret },
    });
    expect(await edit.json()).toMatchObject({ ok: true });
    const [sent] = await other.received();
    expect(sent?.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it("takes no body at all as a test of the saved config", async () => {
    const ws = await seedWorkspace();
    const hook = await webhookReceiver(200);
    const created = await call("/v1/destinations", ws.secretKey, {
      type: "webhook",
      name: "hook",
      config: { url: hook.url, secret: SECRET },
      audiences: [],
    });
    const { id } = await created.json<{ id: string }>();
    const noType: Record<string, string> = {};
    for (const headers of [noType, { "content-type": "application/json" }]) {
      const res = await exports.default.fetch(`http://x/v1/destinations/${id}/test`, {
        method: "POST",
        headers: { authorization: bearer(ws.secretKey), ...headers },
      });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true });
    }
    expect(await hook.received()).toHaveLength(2);
  });

  it("is 404 for another workspace's destination", async () => {
    const a = await seedWorkspace();
    const b = await seedWorkspace();
    const hook = await webhookReceiver(200);
    const created = await call("/v1/destinations", a.secretKey, {
      type: "webhook",
      name: "hook",
      config: { url: hook.url, secret: SECRET },
      audiences: [],
    });
    const { id } = await created.json<{ id: string }>();
    const res = await call(`/v1/destinations/${id}/test`, b.secretKey, {});
    expect(res.status).toBe(404);
  });
});
