import { env } from "cloudflare:workers";
import type { Destination } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { findDestinationById } from "../../d1/queries/destinations";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";

type Workspace = Awaited<ReturnType<typeof seedWorkspace>>;

const KEY = "pk_live_0123456789abcdef";
const WEBHOOK_SECRET = "klaviyo_whsec_0123456789wxyz";
const BASE_URL = "https://klaviyo.mock.test";

function call(ws: Workspace, method: string, path: string, body?: unknown): Promise<Response> {
  return api(path, bearer(ws.secretKey), {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function klaviyoDestination(ws: Workspace): Promise<Destination> {
  const res = await call(ws, "POST", "/v1/destinations", {
    type: "klaviyo",
    name: "Klaviyo",
    config: { api_key: KEY, base_url: BASE_URL, webhook_secret: WEBHOOK_SECRET },
    audiences: [],
    enabled: false,
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json<Destination>();
}

const stored = async (id: string) => JSON.parse((await findDestinationById(env.DB, id))?.config ?? "{}");

describe("PUT /v1/destinations/:id with a partial config", () => {
  it("merges the keys given into the stored config and keeps the others, secrets included", async () => {
    const ws = await seedWorkspace();
    const d = await klaviyoDestination(ws);
    const put = await call(ws, "PUT", `/v1/destinations/${d.id}`, { config: { api_key: "pk_test_9876543210abcd" } });
    expect(put.status, await put.clone().text()).toBe(200);
    expect((await put.json<Destination>()).config).toEqual({
      api_key: "…abcd",
      base_url: BASE_URL,
      webhook_secret: "…wxyz",
    });
    expect(await stored(d.id)).toEqual({
      api_key: "pk_test_9876543210abcd",
      base_url: BASE_URL,
      webhook_secret: WEBHOOK_SECRET,
    });

    // A masked secret sent back keeps the stored one; another key given replaces only itself.
    await call(ws, "PUT", `/v1/destinations/${d.id}`, { config: { webhook_secret: "…wxyz", revision: "2026-07-15" } });
    expect(await stored(d.id)).toEqual({
      api_key: "pk_test_9876543210abcd",
      base_url: BASE_URL,
      revision: "2026-07-15",
      webhook_secret: WEBHOOK_SECRET,
    });
  });

  it("sends no stored secret to a new base_url: each must be given again, in clear", async () => {
    const ws = await seedWorkspace();
    const d = await klaviyoDestination(ws);
    const elsewhere = "https://collector.attacker.test";
    for (const path of [`/v1/destinations/${d.id}`, `/v1/destinations/${d.id}/test`]) {
      const method = path.endsWith("/test") ? "POST" : "PUT";
      const kept = await call(ws, method, path, { config: { base_url: elsewhere, api_key: "…cdef" } });
      expect(await kept.json()).toEqual({
        error: {
          code: "validation_error",
          message: expect.stringMatching(/^config\.api_key: send it again, not masked, with a new base_url/),
        },
      });
    }
    expect(await stored(d.id)).toEqual({ api_key: KEY, base_url: BASE_URL, webhook_secret: WEBHOOK_SECRET });
    const moved = await call(ws, "PUT", `/v1/destinations/${d.id}`, {
      config: { base_url: "https://klaviyo-eu.mock.test", api_key: "pk_eu_0123456789abcd", webhook_secret: null },
    });
    expect(moved.status, await moved.clone().text()).toBe(200);
    expect(await stored(d.id)).toEqual({ api_key: "pk_eu_0123456789abcd", base_url: "https://klaviyo-eu.mock.test" });
  });

  it("treats a __proto__ key as the unknown setting it is, not as the config's prototype", async () => {
    const ws = await seedWorkspace();
    const d = await klaviyoDestination(ws);
    const res = await call(ws, "PUT", `/v1/destinations/${d.id}`, {
      config: JSON.parse(`{"api_key":null,"__proto__":{"api_key":"pk_live_0123456789xxxx"}}`),
    });
    expect(res.status).toBe(400);
    expect(await stored(d.id)).toEqual({ api_key: KEY, base_url: BASE_URL, webhook_secret: WEBHOOK_SECRET });
  });

  it("removes a key given as null, and answers 400 naming a required one", async () => {
    const ws = await seedWorkspace();
    const d = await klaviyoDestination(ws);
    const removed = await call(ws, "PUT", `/v1/destinations/${d.id}`, { config: { webhook_secret: null } });
    expect(removed.status, await removed.clone().text()).toBe(200);
    expect(await stored(d.id)).toEqual({ api_key: KEY, base_url: BASE_URL });

    const required = await call(ws, "PUT", `/v1/destinations/${d.id}`, { config: { api_key: null } });
    expect(required.status).toBe(400);
    expect(await required.json()).toEqual({
      error: { code: "validation_error", message: "config.api_key: is required" },
    });
    const unknown = await call(ws, "PUT", `/v1/destinations/${d.id}`, { config: { region: "eu" } });
    expect(unknown.status).toBe(400);
    expect(await stored(d.id)).toEqual({ api_key: KEY, base_url: BASE_URL });
  });
});
