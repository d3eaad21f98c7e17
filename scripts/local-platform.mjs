// Runs the whole platform locally: D1 migrations, `wrangler dev`, and the dev workspace seed.
// Used by `npm run dev`, by the end-to-end tests (test/support/dev-server.ts) and by the benchmarks.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");

/** The local dev workspace's credentials; each can be overridden by the environment. Never used outside local dev. */
export function devKeys(env = process.env) {
  return {
    workspaceId: env.TESSERA_DEV_WORKSPACE ?? "dev",
    writeKey: env.TESSERA_DEV_WRITE_KEY ?? "wk_dev",
    secretKey: env.TESSERA_DEV_SECRET_KEY ?? "sk_dev",
    adminToken: env.TESSERA_DEV_ADMIN_TOKEN ?? "admin_dev",
  };
}

// Offline machines: never let miniflare try to download Request.cf.
const wranglerEnv = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

function wrangler(args, { quiet = false } = {}) {
  const res = spawnSync(WRANGLER, args, { cwd: ROOT, env: wranglerEnv, encoding: "utf8" });
  if (res.status !== 0) {
    throw new Error(`wrangler ${args.join(" ")} failed (${res.status}):\n${res.stdout}\n${res.stderr}`);
  }
  if (!quiet) process.stdout.write(res.stdout);
}

/**
 * wrangler.toml as the Worker runs on this machine: entry workers/local-entry.ts and no `[assets]` (the entry serves
 * the one asset itself), because wrangler 4.86 answers DESIGN §9's `GET /cdn-cgi/handler/scheduled` with 500 for a
 * Worker with static assets. Written beside wrangler.toml, whose relative paths it keeps; git ignores it.
 */
export function localConfig() {
  const deployed = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const local = deployed
    .replace(/^main = "workers\/index\.ts"$/m, 'main = "workers/local-entry.ts"')
    .replace(/^\[assets\]\ndirectory = "workers\/public"\n/m, "");
  if (!local.includes('main = "workers/local-entry.ts"') || /^\[assets\]/m.test(local))
    throw new Error(
      "wrangler.toml changed its main or [assets] lines: update localConfig in scripts/local-platform.mjs",
    );
  const file = path.join(ROOT, "wrangler.local.toml");
  // Several platforms start side by side (the tests): each writes whole files and renames, so none reads half of one.
  const partial = `${file}.${process.pid}.${Date.now()}`;
  writeFileSync(
    partial,
    `# Written by scripts/local-platform.mjs from wrangler.toml for \`wrangler dev\`; edit that file.\n${local}`,
  );
  renameSync(partial, file);
  return file;
}

/** Apply D1 migrations to the local state in `persistTo` (before `startWrangler`). */
export function prepareLocalState({ persistTo, quiet = false }) {
  mkdirSync(persistTo, { recursive: true });
  wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo], { quiet });
}

/**
 * Seed the dev workspace with `keys` in the running Worker at `url` (started by `startWrangler`, which makes it a
 * development Worker with `keys.adminToken`). The Worker writes it with the same code as `POST /v1/workspaces`;
 * idempotent, so a restart over kept state changes nothing.
 */
export async function seedDevWorkspace({ url, keys = devKeys() }) {
  const res = await fetch(`${url}/dev/seed`, {
    method: "POST",
    headers: { authorization: `Bearer ${keys.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ workspace_id: keys.workspaceId, write_key: keys.writeKey, secret_key: keys.secretKey }),
  });
  if (!res.ok) throw new Error(`seeding the dev workspace failed (${res.status}): ${await res.text()}`);
}

/** The cron expressions of the Worker's `[triggers]` in wrangler.toml, as wrangler itself reads them. */
export async function configuredCrons(configPath = path.join(ROOT, "wrangler.toml")) {
  const { unstable_readConfig } = await import("wrangler");
  return unstable_readConfig({ config: configPath }).triggers?.crons ?? [];
}

/** Each minute, as Cloudflare runs `* * * * *`; the only schedule {@link startCronTicker} keeps. */
const EVERY_MINUTE = "* * * * *";

/**
 * Runs the Worker's every-minute crons at the start of each minute, as Cloudflare does, through the endpoint
 * `wrangler dev` has for it (`GET /cdn-cgi/handler/scheduled?cron=…`, DESIGN §9): crons never fire by themselves under
 * `wrangler dev` (DESIGN §9), and without them `npm run dev` never polled engagement, repaired drift, resumed erasures
 * or queued the backfills whose send had failed. Other schedules are reported and left to that endpoint, by hand.
 * `intervalMs` is for tests. A failed run is reported and the next one comes as usual. Returns `stop()`.
 */
export function startCronTicker({ url, crons, intervalMs = 60_000, report = console.error }) {
  for (const cron of crons.filter((c) => c !== EVERY_MINUTE))
    report(
      `cron "${cron}" is not run locally; run it with GET ${url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(cron)}`,
    );
  let timer;
  let stopped = false;
  const run = async () => {
    try {
      const res = await fetch(`${url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(EVERY_MINUTE)}`);
      const body = await res.text();
      if (!res.ok) report(`cron "${EVERY_MINUTE}" failed (${res.status}): ${body.slice(0, 500)}`);
    } catch (err) {
      report(`cron "${EVERY_MINUTE}" could not reach ${url}: ${err.message}`);
    }
  };
  const next = () => {
    if (stopped) return;
    // On the boundary, as Cloudflare does: the runs of two platforms started apart still line up with the clock.
    timer = setTimeout(() => run().then(next), intervalMs - (Date.now() % intervalMs));
  };
  if (crons.includes(EVERY_MINUTE)) next();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Start `wrangler dev` and resolve once it answers /health, on `port` or (left out) a free one. `vars` become Worker
 * vars (`--var K:V`); `inspectorPort` fixes the DevTools port (a free one by default) for a profiler to attach;
 * `logTo` names a file that keeps all of its output (only the last 20,000 characters are kept otherwise).
 * Resolves to `{url, child, stop}`; `stop()` ends wrangler and its workerd.
 */
export async function startWrangler({ port, ...options }) {
  if (port !== undefined) return launchWrangler({ port, ...options });
  // A port found free can be taken before workerd binds it (other platforms starting side by side, as the end-to-end
  // tests do; once seen on a fresh clone): wrangler then exits with "Address already in use", and another port is tried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchWrangler({ port: await freePort(), ...options });
    } catch (err) {
      if (attempt === 3 || !/Address already in use/.test(err.message)) throw err;
      console.warn(`wrangler dev: port taken before it was bound; trying another (attempt ${attempt + 1} of 3)`);
    }
  }
}

async function launchWrangler({
  port,
  persistTo,
  keys = devKeys(),
  vars = {},
  config,
  inherit = false,
  inspectorPort,
  logTo,
}) {
  const args = [
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
    // Its own inspector port: wrangler's default (9229, then 9230) is taken when several platforms run side by side.
    "--inspector-port",
    String(inspectorPort ?? (await freePort())),
  ];
  args.push("--config", config ?? localConfig());
  const allVars = { ENVIRONMENT: "development", ADMIN_TOKEN: keys.adminToken, ...vars };
  for (const [k, v] of Object.entries(allVars)) args.push("--var", `${k}:${v}`);
  const child = spawn(WRANGLER, args, {
    cwd: ROOT,
    env: wranglerEnv,
    stdio: inherit ? "inherit" : ["ignore", "pipe", "pipe"],
    detached: !inherit,
  });
  let output = "";
  if (!inherit) {
    if (logTo) mkdirSync(path.dirname(logTo), { recursive: true });
    const log = logTo ? createWriteStream(logTo, { flags: "a" }) : undefined;
    for (const stream of [child.stdout, child.stderr])
      stream.on("data", (d) => {
        output = (output + d).slice(-20_000);
        log?.write(d);
      });
  }
  const url = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      try {
        // The process group also holds workerd.
        if (inherit) child.kill("SIGTERM");
        else process.kill(-child.pid, "SIGTERM");
      } catch {
        resolve();
      }
      setTimeout(() => {
        try {
          if (!inherit) process.kill(-child.pid, "SIGKILL");
        } catch {}
        resolve();
      }, 5_000).unref();
    });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer on ${url} within 120 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, child, stop, output: () => output };
}
