/**
 * `npm run mocks` (scripts/mocks.mjs) as a person runs it, reporting to a stand-in for Tessera: each mock answers on
 * the port it prints, refusing a call without credentials as its vendor does; the printed destinations are ones
 * Tessera's own plugins accept and sync through; a reported open reaches Tessera as that vendor sends it — a signed
 * webhook that Tessera's own inbound code verifies and reads, or an item its own poller reads, with its cron run at
 * once; and Ctrl-C stops everything.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PluginContext, RawInbound } from "../workers/sync/plugin";
import { inboundFor, pluginFor, pollerFor } from "../workers/sync/registry";
import { signTessera, TESSERA_SIGNATURE_HEADER } from "../workers/sync/tessera-signature";
import { ROOT } from "./local-platform.mjs";

const SECRET_KEY = "sk_mocks_test";
/** The inbound secret of every stand-in destination, in its `webhook_url` (Tessera's fallback for each vendor). */
const INBOUND_SECRET = "whsec_inbound_0123456789";
const ANN = "ann@example.com";
const LIST = { key: "lapsed_store_buyers", name: "tessera_lapsed_store_buyers" };

interface Printed {
  type: string;
  name: string;
  audiences: string[];
  config: Record<string, unknown>;
}

/** Tessera as far as the mocks see it: the printed destinations, their webhook URLs, and the cron endpoint. */
async function standInTessera(destinations: () => Printed[]) {
  const webhooks: RawInbound[] = [];
  let crons = 0;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = `${base}${req.url}`;
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/v1/destinations" && req.headers.authorization === `Bearer ${SECRET_KEY}`) {
      const data = destinations().map((d) => ({ ...d, webhook_url: webhookUrlOf(d.type) }));
      return reply(200, { data });
    }
    if (req.url?.startsWith("/cdn-cgi/handler/scheduled")) {
      crons++;
      return reply(200, {});
    }
    if (req.method === "POST" && req.url?.startsWith("/v1/webhooks/")) {
      const headers = new Headers(req.headers as Record<string, string>);
      webhooks.push({ method: "POST", url, headers, body: new Uint8Array(Buffer.concat(chunks)) });
      return reply(200, { stored: 1, unmatched: 0 });
    }
    reply(404, { error: { code: "not_found", message: req.url } });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const webhookUrlOf = (type: string) => `${base}/v1/webhooks/dst_${type}?secret=${INBOUND_SECRET}`;
  return { url: base, webhooks, crons: () => crons, stop: () => new Promise((r) => server.close(r)) };
}

/** Starts the runner on free ports and resolves with what it printed once it says it is ready. */
async function startRunner(tesseraUrl: string): Promise<{ child: ChildProcess; output: string }> {
  const ports = { MOCK_HUBSPOT_PORT: "0", MOCK_MAILCHIMP_PORT: "0", MOCK_KLAVIYO_PORT: "0", MOCK_MARKETO_PORT: "0" };
  const child = spawn(process.execPath, ["scripts/mocks.mjs"], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...ports,
      MOCK_WEBHOOK_PORT: "0",
      TESSERA_URL: tesseraUrl,
      TESSERA_DEV_SECRET_KEY: SECRET_KEY,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within 30 s:\n${output}`)), 30_000);
    const take = (chunk: Buffer) => {
      output += chunk;
      if (!output.includes("Ready. Ctrl-C stops the mocks.")) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    child.once("exit", (code) => reject(new Error(`exited (${code}):\n${output}`)));
  });
  return { child, output };
}

describe("npm run mocks", () => {
  let tessera: Awaited<ReturnType<typeof standInTessera>>;
  let runner: { child: ChildProcess; output: string };
  let printed: Printed[] = [];
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    tessera = await standInTessera(() => printed);
    runner = await startRunner(tessera.url);
    printed = [...runner.output.matchAll(/-d '(\{"type".*\})'$/gm)].map((m) => JSON.parse(m[1]) as Printed);
    for (const [, name, url] of runner.output.matchAll(/^(\w+) +(http:\/\/127\.0\.0\.1:\d+) /gm))
      urls[name.toLowerCase()] = url;
  });
  afterAll(async () => {
    runner?.child.kill("SIGKILL");
    await tessera?.stop();
  });

  const configOf = (type: string) => printed.find((d) => d.type === type)?.config ?? {};
  const contextOf = (type: string): PluginContext<Record<string, unknown>> => {
    const values = new Map<string, string>();
    const store = {
      get: async (k: string) => values.get(k),
      put: async (k: string, v: string) => void values.set(k, v),
    };
    return { config: configOf(type), fetch, now: Date.now, store };
  };
  const control = async (type: string, path: string, body?: unknown) => {
    const res = await fetch(`${urls[type]}/__mock/${path}`, {
      method: body === undefined ? "GET" : "POST",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** The engagements Tessera reads from the last webhook it received, once verified as its route verifies them. */
  const lastWebhook = async (type: string) => {
    const req = tessera.webhooks.at(-1) as RawInbound;
    expect(new URL(req.url).pathname).toBe(`/v1/webhooks/dst_${type}`);
    const config = configOf(type);
    const secrets = {
      ...config,
      secret: config.secret ?? INBOUND_SECRET,
      webhook_secret: config.webhook_secret ?? INBOUND_SECRET,
    };
    const source = inboundFor(type);
    expect(await source?.verify(req, secrets, Date.now())).toEqual({ ok: true });
    return source?.parse(req);
  };

  it("prints, for each vendor, a destination Tessera accepts that points at the mock", () => {
    expect(Object.keys(urls).sort()).toEqual(["hubspot", "klaviyo", "mailchimp", "marketo", "webhook"]);
    expect(printed.map((d) => d.type).sort()).toEqual(["hubspot", "klaviyo", "mailchimp", "marketo", "webhook"]);
    for (const { type, config, audiences } of printed) {
      expect(pluginFor(type)?.validateConfig(config), type).toBeNull();
      expect(String(config.base_url ?? config.url).startsWith(urls[type]), type).toBe(true);
      expect(audiences).toEqual([LIST.key]);
    }
    expect(runner.output).toContain(`curl -s ${tessera.url}/v1/destinations -H 'authorization: Bearer ${SECRET_KEY}'`);
  });

  it("refuses each vendor's API without credentials, as the vendor does, and takes the printed ones", async () => {
    const status = async (url: string, headers: Record<string, string> = {}) => (await fetch(url, { headers })).status;
    const hubspot = `${urls.hubspot}/crm/v3/objects/contacts`;
    expect(await status(hubspot)).toBe(401);
    expect(await status(hubspot, { authorization: `Bearer ${configOf("hubspot").access_token}` })).toBe(200);
    const mailchimp = `${urls.mailchimp}/3.0/ping`;
    expect(await status(mailchimp)).toBe(401);
    const basic = `Basic ${Buffer.from(`any:${configOf("mailchimp").api_key}`).toString("base64")}`;
    expect(await status(mailchimp, { authorization: basic })).toBe(200);
    const klaviyo = `${urls.klaviyo}/api/lists`;
    expect(await status(klaviyo, { revision: "2026-07-15" })).toBe(401);
    const key = `Klaviyo-API-Key ${configOf("klaviyo").api_key}`;
    expect(await status(klaviyo, { revision: "2026-07-15", authorization: key })).toBe(200);
    // Marketo refuses inside an HTTP 200 (code 600: no token); its token comes from the printed client credentials.
    const leads = await fetch(`${urls.marketo}/rest/v1/leads.json?filterType=email&filterValues=${ANN}`);
    expect(await leads.json()).toMatchObject({ success: false, errors: [{ code: "600" }] });
    const { client_id, client_secret } = configOf("marketo") as Record<string, string>;
    const token = await fetch(`${urls.marketo}/identity/oauth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "client_credentials", client_id, client_secret }),
    });
    expect(token.status).toBe(200);
    expect((await fetch(`${urls.webhook}/hook`, { method: "POST", body: "{}" })).status).toBe(401);
  });

  it("shows the members Tessera syncs, then reports an open as each vendor does", async () => {
    // Tessera's own plugins sync Ann into the audience's list at each MAP, with the printed configs.
    for (const type of ["hubspot", "mailchimp", "klaviyo", "marketo"]) {
      const plugin = pluginFor(type);
      const ctx = contextOf(type);
      const identity = { profileId: "prf_ann", email: ANN };
      const [upserted] = (await plugin?.upsertContacts(ctx, [{ identity, traits: { first_name: "Ann" } }])) ?? [];
      expect(upserted, type).toMatchObject({ status: "ok" });
      const vendorId = upserted.status === "ok" ? upserted.vendorId : undefined;
      const [added] =
        (await plugin?.applyMemberships(ctx, LIST, [{ identity: { ...identity, vendorId }, member: true }])) ?? [];
      expect(added, type).toMatchObject({ status: "ok" });
      expect((await control(type, "lists")).body, type).toEqual({ [LIST.name]: [ANN] });
    }
    // …and its webhook destination signs Ann's entry.
    const entered = JSON.stringify({
      type: "audience.entered",
      id: "audience.entered:prf_ann",
      at: new Date().toISOString(),
      workspace: "dev",
      destination: "dst_webhook",
      profile: { id: "prf_ann", identifiers: [{ type: "email", value: ANN }], traits: {}, computed: {} },
      audience: LIST.key,
    });
    const signature = await signTessera(String(configOf("webhook").secret), entered, Date.now());
    const hook = await fetch(`${urls.webhook}/hook`, {
      method: "POST",
      headers: { [TESSERA_SIGNATURE_HEADER]: signature },
      body: entered,
    });
    expect(hook.status).toBe(200);
    expect((await control("webhook", "lists")).body).toEqual({ [LIST.key]: [ANN] });

    // Klaviyo and a webhook endpoint push the open, signed, to the destination's webhook_url.
    for (const type of ["klaviyo", "webhook"]) {
      const report = await control(type, "engagement", { email: ANN, event: "opened" });
      expect(report, type).toMatchObject({ status: 200, body: { delivered: "webhook", status: 200 } });
      expect(await lastWebhook(type)).toEqual([expect.objectContaining({ event: "Email Opened", email: ANN })]);
    }
    // HubSpot, Mailchimp and Marketo put it where Tessera's poller reads it, and have Tessera's cron run now.
    for (const type of ["hubspot", "mailchimp", "marketo"]) {
      const crons = tessera.crons();
      const report = await control(type, "engagement", { email: ANN, event: "opened" });
      expect(report, type).toMatchObject({
        status: 200,
        body: { delivered: "poll", tessera: "Tessera's cron ran now and polled it" },
      });
      expect(tessera.crons()).toBe(crons + 1);
      const polled = await pollerFor(type)?.poll(contextOf(type), undefined);
      expect(
        polled?.engagements.map((e) => e.event),
        type,
      ).toEqual(["Email Opened"]);
    }
    // An unsubscribe is a webhook at HubSpot (a signed property change) and Mailchimp (its form, the secret in the URL).
    for (const type of ["hubspot", "mailchimp"]) {
      const report = await control(type, "engagement", { email: ANN, event: "unsubscribed" });
      expect(report, type).toMatchObject({ status: 200, body: { delivered: "webhook", status: 200 } });
      expect(await lastWebhook(type)).toEqual([expect.objectContaining({ event: "Unsubscribed" })]);
    }
    expect(tessera.webhooks).toHaveLength(4);
  });

  it("refuses a report about someone the vendor never got, or of an event the vendor does not report", async () => {
    const unknown = await control("klaviyo", "engagement", { email: "nobody@example.com", event: "opened" });
    expect(unknown.status).toBe(404);
    const delivered = await control("mailchimp", "engagement", { email: ANN, event: "delivered" });
    expect(delivered.status).toBe(400);
    expect(delivered.body.error).toContain("opened (poll)");
  });

  it("stops every mock on Ctrl-C", async () => {
    const exited = new Promise<number | null>((resolve) => runner.child.once("exit", resolve));
    runner.child.kill("SIGINT");
    expect(await exited).toBe(0);
    await expect(fetch(`${urls.klaviyo}/__mock/lists`)).rejects.toThrow();
  });
});
