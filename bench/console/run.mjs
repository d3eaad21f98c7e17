// `node bench/console/run.mjs [runs]`: the console's bytes (gzip -9) and its first render in Chromium, from a cold
// tab to (a) the sign-in form and (b) a signed-in profile page with its identity graph and first events drawn, for
// a typical profile and for the realistic worst case (30 merged-away visitors, 62 identifiers, 60 events).
// Needs `npm run build` first (packages/console/dist) and /usr/bin/chromium. Starts its own `wrangler dev`.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH, ensureChromium } from "../../scripts/chromium.mjs";
import {
  devKeys,
  freePort,
  prepareLocalState,
  ROOT,
  seedDevWorkspace,
  startWrangler,
} from "../../scripts/local-platform.mjs";

const runs = Number(process.argv[2] ?? 10);
const dist = path.join(ROOT, "packages/console/dist");
const gz = (file) => gzipSync(readFileSync(path.join(dist, file)), { level: 9 }).length;
console.log(
  `console.js ${gz("console.js").toLocaleString("en-US")} B gzip -9, console.css ${gz("console.css").toLocaleString("en-US")} B (budget: JS ≤ 150 KB)`,
);

ensureChromium();
const persistTo = mkdtempSync(path.join(tmpdir(), "tessera-bench-console-"));
const keys = devKeys({});
prepareLocalState({ persistTo, quiet: true });
const server = await startWrangler({ port: await freePort(), persistTo, keys });
await seedDevWorkspace({ url: server.url, keys });

async function send(batch) {
  const res = await fetch(`${server.url}/v1/batch`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${keys.writeKey}:`).toString("base64")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ batch, sentAt: new Date().toISOString() }),
  });
  if (!res.ok) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
}

/** A profile of `visitors` anonymous visitors who logged in as one user, with 60 events. */
async function seedProfile(visitors) {
  const userId = `bench-${randomUUID()}`;
  const anon = Array.from({ length: visitors }, () => randomUUID());
  await send(anon.map((anonymousId) => ({ type: "track", anonymousId, event: "Product Viewed" })));
  for (const anonymousId of anon)
    await send([{ type: "identify", anonymousId, userId, traits: { email: `${userId}@example.com` } }]);
  await send(
    Array.from({ length: 60 }, (_, i) => ({ type: "track", userId, event: "Order Completed", properties: { i } })),
  );
  return `user_id:${userId}`;
}

const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
/** Milliseconds from the navigation's start to `ready` being visible, by the page's own clock; a fresh tab each run. */
async function firstRender(url, ready, signedIn) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    if (signedIn)
      await context.addInitScript((key) => sessionStorage.setItem("tessera.console.secretKey", key), keys.secretKey);
    const page = await context.newPage();
    await page.goto(url);
    await page.locator(ready).first().waitFor();
    times.push(await page.evaluate(() => performance.now()));
    await context.close();
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], max: times.at(-1) };
}

const typical = await seedProfile(2);
const worst = await seedProfile(30);
const rows = [
  ["sign-in form", await firstRender(`${server.url}/console`, "#secret-key", false)],
  [
    "profile page (2 visitors merged)",
    await firstRender(`${server.url}/console/profiles/${encodeURIComponent(typical)}`, "ol.timeline li", true),
  ],
  [
    "profile page (30 visitors merged)",
    await firstRender(`${server.url}/console/profiles/${encodeURIComponent(worst)}`, "ol.timeline li", true),
  ],
];
console.log(`\nfirst render, cold tab, navigation start → drawn (${runs} runs)`);
for (const [label, t] of rows)
  console.log(`${label.padEnd(36)} median ${t.median.toFixed(0)} ms   max ${t.max.toFixed(0)} ms`);
await browser.close();
await server.stop();
rmSync(persistTo, { recursive: true, force: true });
