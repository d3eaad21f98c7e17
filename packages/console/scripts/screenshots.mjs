// `node packages/console/scripts/screenshots.mjs`: the console's main pages as PNGs in docs/screenshots/, for the
// README. Starts its own `wrangler dev` with fresh state, seeds a small story (a customer seen on two devices, a
// shared device, purchases, an audience, a webhook destination), and photographs each page in Chromium.
// Needs `npm run build` first.
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH, ensureChromium } from "../../../scripts/chromium.mjs";
import {
  devKeys,
  freePort,
  prepareLocalState,
  ROOT,
  seedDevWorkspace,
  startWrangler,
} from "../../../scripts/local-platform.mjs";

const out = path.join(ROOT, "docs/screenshots");
mkdirSync(out, { recursive: true });
ensureChromium();
const persistTo = mkdtempSync(path.join(tmpdir(), "tessera-screenshots-"));
const keys = devKeys({});
prepareLocalState({ persistTo, quiet: true });
const server = await startWrangler({ port: await freePort(), persistTo, keys });
await seedDevWorkspace({ url: server.url, keys });
const hook = createServer((req, res) => req.resume().on("end", () => res.writeHead(200).end("ok")));
await new Promise((r) => hook.listen(0, "127.0.0.1", r));

const api = async (method, route, body, auth = `Bearer ${keys.secretKey}`) => {
  const res = await fetch(`${server.url}${route}`, {
    method,
    headers: { authorization: auth, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
  return res.json();
};
const send = (batch) =>
  api(
    "POST",
    "/v1/batch",
    { batch, sentAt: new Date().toISOString() },
    `Basic ${Buffer.from(`${keys.writeKey}:`).toString("base64")}`,
  );

const day = 86_400_000;
await send([
  { type: "page", anonymousId: "laptop-7f3a", name: "Home" },
  { type: "track", anonymousId: "phone-91c2", event: "Product Viewed", properties: { sku: "TEA-01" } },
  {
    type: "identify",
    anonymousId: "laptop-7f3a",
    userId: "cust-1042",
    traits: { email: "jane@example.com", first_name: "Jane", city: "Leeds" },
  },
  { type: "identify", anonymousId: "phone-91c2", userId: "cust-1042" },
  { type: "identify", anonymousId: "laptop-7f3a", userId: "cust-2210" },
  ...Array.from({ length: 12 }, (_, i) => ({
    type: "track",
    userId: "cust-1042",
    event: i % 3 ? "Order Completed" : "Email Opened",
    properties: { channel: i % 2 ? "pos" : "web", total: 20 + i * 7 },
    timestamp: new Date(Date.now() - (i + 1) * 5 * day).toISOString(),
  })),
]);
await api("POST", "/v1/computed-traits", {
  key: "lifetime_value",
  name: "Lifetime value",
  definition: { op: "sum", event: "Order Completed", property: "total" },
});
await api("POST", "/v1/audiences", {
  key: "store_buyers",
  name: "Store buyers",
  definition: { event: "Order Completed", where: [{ property: "channel", op: "eq", value: "pos" }], within: "90d" },
});
const destination = await api("POST", "/v1/destinations", {
  type: "webhook",
  name: "CRM webhook",
  config: { url: `http://127.0.0.1:${hook.address().port}/hook`, secret: "whsec_0123456789abcdef" },
  audiences: ["store_buyers"],
  traits: ["first_name", "lifetime_value"],
});
await api("POST", `/v1/destinations/${destination.id}/reconcile`);

const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
await context.addInitScript((key) => sessionStorage.setItem("tessera.console.secretKey", key), keys.secretKey);
const page = await context.newPage();
async function shot(name, route, ready, { fullPage = false } = {}) {
  await page.goto(`${server.url}${route}`);
  await page.locator(ready).first().waitFor();
  await page.waitForTimeout(600);
  await page.screenshot({ path: path.join(out, `${name}.png`), fullPage });
  console.log(`docs/screenshots/${name}.png`);
}
await new Promise((r) => setTimeout(r, 3000));
await shot("profile", `/console/profiles/${encodeURIComponent("email:jane@example.com")}`, "svg.identity-graph", {
  fullPage: true,
});
await shot("audiences", "/console/audiences", "table");
await shot("audience-builder", "/console/audiences/new", ".preview");
await shot("destination", `/console/destinations/${destination.id}`, ".counters");
await shot("sources", "/console/sources", "table");
await page.goto(`${server.url}/console/live`);
await page.getByText("Listening").waitFor();
for (let i = 0; i < 3; i++) {
  await send([
    { type: "track", anonymousId: randomUUID(), event: "Product Viewed", properties: { sku: `TEA-0${i}` } },
    { type: "page", userId: "cust-1042", name: "Checkout" },
  ]).catch(() => {});
  await fetch(`${server.url}/v1/batch`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${keys.writeKey}:`).toString("base64")}` },
    body: JSON.stringify({ batch: [{ type: "track", anonymousId: randomUUID() }] }),
  });
  await new Promise((r) => setTimeout(r, 700));
}
await page.waitForTimeout(800);
await page.screenshot({ path: path.join(out, "live-events.png") });
console.log("docs/screenshots/live-events.png");
await browser.close();
hook.close();
await server.stop();
rmSync(persistTo, { recursive: true, force: true });
