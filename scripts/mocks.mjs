// `npm run mocks`: the vendor mocks the tests use (test/support/mocks/), on fixed local ports with each vendor's real
// rate limits, for trying activation and engagement against `npm run dev` without vendor accounts. Prints, for each,
// the `POST /v1/destinations` that connects Tessera to it, how to see what it holds, and how to make it report an open.
//
// Node runs no TypeScript: the mocks are bundled on each start with esbuild (a devDependency) into node_modules/.cache,
// where the packages they import resolve as usual.
import { rmSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { devKeys, ROOT } from "./local-platform.mjs";

/** The env variable naming each vendor's port. */
const PORT_VARIABLES = {
  hubspot: "MOCK_HUBSPOT_PORT",
  mailchimp: "MOCK_MAILCHIMP_PORT",
  klaviyo: "MOCK_KLAVIYO_PORT",
  marketo: "MOCK_MARKETO_PORT",
  webhook: "MOCK_WEBHOOK_PORT",
};
/** The audience the printed destinations sync: the README's seed workflow. */
const AUDIENCE = "lapsed_store_buyers";

const fail = (message) => {
  console.error(`npm run mocks: ${message}`);
  process.exit(1);
};

const tesseraUrl = (process.env.TESSERA_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
if (!URL.canParse(tesseraUrl)) fail(`TESSERA_URL ${tesseraUrl} is not a URL`);
const { secretKey } = devKeys();
const ports = {};
for (const [vendor, variable] of Object.entries(PORT_VARIABLES)) {
  const value = process.env[variable];
  if (!value) continue;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`${variable}=${value} is not a port`);
  ports[vendor] = port;
}

const { startLocalVendors, DEFAULT_PORTS } = await loadMocks();
let mocks;
try {
  mocks = await startLocalVendors({ tesseraUrl, secretKey, ports });
} catch (err) {
  if (err.code !== "EADDRINUSE") throw err;
  const vendor = Object.keys(PORT_VARIABLES).find((v) => (ports[v] ?? DEFAULT_PORTS[v]) === err.port);
  fail(`port ${err.port} is taken${vendor ? `: set ${PORT_VARIABLES[vendor]} to another (0: any free one)` : ""}`);
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    // A connection Tessera keeps open must not keep the mocks up.
    setTimeout(() => process.exit(0), 3_000).unref();
    mocks.stop().then(() => process.exit(0));
  });

console.log(await instructions(mocks.vendors));

async function loadMocks() {
  // One file per run, removed once imported: two runs at once (a test beside a person's) never read each other's.
  const outfile = path.join(ROOT, "node_modules", ".cache", "tessera-mocks", `local-vendors-${process.pid}.mjs`);
  await build({
    entryPoints: [path.join(ROOT, "test", "support", "mocks", "local", "index.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "error",
  });
  try {
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(outfile, { force: true });
  }
}

/** What the console shows: every mock, its curl to connect it, to look into it and to report engagement. */
async function instructions(vendors) {
  const shell = (value) => `'${value}'`;
  const lines = [`Vendor mocks, with each vendor's real rate limits, reporting to the Tessera at ${tesseraUrl}.`];
  if (!(await answers(`${tesseraUrl}/health`)))
    lines.push(`(Tessera does not answer there yet: start it with \`npm run dev\`, or set TESSERA_URL.)`);
  for (const vendor of vendors) {
    const body = {
      type: vendor.destination.type,
      name: `${vendor.name} (mock)`,
      audiences: [AUDIENCE],
      traits: ["first_name"],
      config: vendor.destination.config,
    };
    const byChannel = (channel) =>
      Object.entries(vendor.channels)
        .filter(([, c]) => c === channel)
        .map(([kind]) => kind);
    const how = [
      byChannel("poll").length ? `${byChannel("poll").join(", ")}: an item of the feed Tessera polls` : "",
      byChannel("webhook").length ? `${byChannel("webhook").join(", ")}: a signed webhook to Tessera` : "",
    ].filter(Boolean);
    lines.push(
      "",
      `${vendor.name.padEnd(10)} ${vendor.url}   (${PORT_VARIABLES[vendor.key]}; ${vendor.limits})`,
      `  connect  curl -s ${tesseraUrl}/v1/destinations -H 'authorization: Bearer ${secretKey}' \\`,
      `             -H 'content-type: application/json' -d ${shell(JSON.stringify(body))}`,
      `  lists    curl -s ${vendor.url}/__mock/lists`,
      `  report   curl -s ${vendor.url}/__mock/engagement -d '{"email":"ann@example.com","event":"opened"}'`,
      `           ${how.join("; ")}`,
    );
  }
  lines.push(
    "",
    `"audiences" must name audiences of yours (${AUDIENCE}: README, "Try it"). A report needs the contact at the vendor,`,
    `so after Tessera synced it; a polled one runs Tessera's cron at once. A webhook goes to the webhook_url of the newest`,
    `destination pointing at the mock (or add "webhook_url" to the report). Every mock also answers GET /__mock/contacts,`,
    "GET /__mock/requests?limit=, POST /__mock/faults and POST /__mock/reset. They hold everything in memory: after a",
    "restart they are empty, and a destination created again refills its mock.",
    "",
    "Ready. Ctrl-C stops the mocks.",
  );
  return lines.join("\n");
}

async function answers(url) {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(5_000) })).ok;
  } catch {
    return false;
  }
}
