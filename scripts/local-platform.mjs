// Runs the whole platform locally: D1 migrations, the dev workspace seed, and `wrangler dev`.
// Used by `npm run dev`, by the end-to-end tests (test/support/dev-server.ts) and by the benchmarks.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
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

const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const sqlString = (text) => `'${String(text).replaceAll("'", "''")}'`;

/** Apply D1 migrations to the local state in `persistTo` and seed the dev workspace (idempotent). */
export function prepareLocalState({ persistTo, keys = devKeys(), quiet = false }) {
  mkdirSync(persistTo, { recursive: true });
  wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo], { quiet });
  const now = Date.now();
  const ws = sqlString(keys.workspaceId);
  const seed = [
    `INSERT OR IGNORE INTO workspaces (id, name, created_at) VALUES (${ws}, 'Local development', ${now});`,
    `INSERT OR IGNORE INTO sources (id, workspace_id, name, created_at) VALUES ('src_dev', ${ws}, 'Local website', ${now});`,
    `INSERT OR IGNORE INTO api_keys (key_hash, workspace_id, kind, source_id, prefix, created_at) VALUES (${sqlString(sha256(keys.writeKey))}, ${ws}, 'write', 'src_dev', ${sqlString(keys.writeKey.slice(0, 7))}, ${now});`,
    `INSERT OR IGNORE INTO api_keys (key_hash, workspace_id, kind, source_id, prefix, created_at) VALUES (${sqlString(sha256(keys.secretKey))}, ${ws}, 'secret', NULL, ${sqlString(keys.secretKey.slice(0, 7))}, ${now});`,
  ].join("\n");
  const seedFile = path.join(persistTo, "dev-seed.sql");
  writeFileSync(seedFile, seed);
  wrangler(["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--file", seedFile], { quiet: true });
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
 * Start `wrangler dev` and resolve once it answers /health. `vars` become Worker vars (`--var K:V`).
 * Resolves to `{url, child, stop}`; `stop()` ends wrangler and its workerd.
 */
export async function startWrangler({ port, persistTo, keys = devKeys(), vars = {}, config, inherit = false }) {
  const args = [
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
  ];
  if (config) args.push("--config", config);
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
    child.stdout.on("data", (d) => {
      output = (output + d).slice(-20_000);
    });
    child.stderr.on("data", (d) => {
      output = (output + d).slice(-20_000);
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
