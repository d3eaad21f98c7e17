import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll } from "vitest";
import { devKeys, prepareLocalState, seedDevWorkspace, startWrangler } from "../../scripts/local-platform.mjs";

export interface DevServer {
  url: string;
  writeKey: string;
  secretKey: string;
  adminToken: string;
  /** wrangler's and the Worker's output (logs, errors), kept while the server runs: what a failed test prints. */
  logPath: string;
  stop(): Promise<void>;
  /**
   * `kill -9` of wrangler and its workerd (the whole process group), as a crash would: nothing is flushed or closed.
   * Resolves once the port refuses connections.
   */
  kill(): Promise<void>;
  /**
   * Starts the platform again on the same state (after `kill`), without seeding: on the same port, or on a new one
   * (then `url` changes) when wrangler cannot come up there.
   */
  restart(): Promise<void>;
}

/**
 * The platform as `npm run dev` runs it (same script, same seed), on a free port with its own fresh state,
 * so end-to-end tests can run side by side and never see each other's data.
 */
export async function startDevServer(options: { vars?: Record<string, string> } = {}): Promise<DevServer> {
  const persistTo = mkdtempSync(path.join(tmpdir(), "tessera-e2e-"));
  const keys = devKeys({});
  prepareLocalState({ persistTo, quiet: true });
  const logTo = path.join(persistTo, "wrangler.log");
  let server = await startWrangler({ persistTo, keys, vars: options.vars, logTo });
  const port = Number(new URL(server.url).port);
  await seedDevWorkspace({ url: server.url, keys }).catch(async (err) => {
    await server.stop();
    throw err;
  });
  const dev: DevServer = {
    url: server.url,
    writeKey: keys.writeKey,
    secretKey: keys.secretKey,
    adminToken: keys.adminToken,
    logPath: logTo,
    async stop() {
      await server.stop();
      rmSync(persistTo, { recursive: true, force: true });
    },
    async kill() {
      const child = server.child;
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
      process.kill(-(child.pid as number), "SIGKILL");
      await exited;
      await portClosed(server.url);
    },
    async restart() {
      // wrangler itself can fail to come up on a loaded machine (the port not free yet): a second try is what an
      // operator would do. The first failure is logged with wrangler's output, so a real one is not hidden.
      try {
        server = await startWrangler({ port, persistTo, keys, vars: options.vars, logTo });
      } catch (err) {
        console.error("restart: wrangler dev did not come up; trying once more on another port", err);
        server = await startWrangler({ persistTo, keys, vars: options.vars, logTo });
        dev.url = server.url;
      }
    },
  };
  return dev;
}

/**
 * The dev server of one `describe`: started before its tests, stopped after them, the end of its log printed after
 * each one that failed. Call the answer inside a test (`dev().url`): there is no server before `beforeAll` ran.
 *
 * @example const dev = useDevServer(); it("…", async () => { await fetch(`${dev().url}/health`); });
 */
export function useDevServer(options: { vars?: Record<string, string> } = {}): () => DevServer {
  let server: DevServer | undefined;
  printServerLogOnFailure(() => server?.logPath);
  beforeAll(async () => {
    server = await startDevServer(options);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error("The dev server is not started yet: use it inside a test or a hook");
    return server;
  };
}

/**
 * After each failed test, prints the end of the dev server's log (see {@link DevServer.logPath}; `logPath` answers
 * undefined before the server started): what the Worker and wrangler said while it ran is how a failure seen only on
 * a busy CI machine gets explained.
 */
export function printServerLogOnFailure(logPath: () => string | undefined, chars = 6_000): void {
  afterEach(({ task }) => {
    const file = logPath();
    if (task.result?.state !== "fail" || file === undefined) return;
    const log = existsSync(file) ? readFileSync(file, "utf8").slice(-chars) : "(no log)";
    console.error(`the dev server's log, last lines:\n${log}`);
  });
}

/** Resolves once nothing answers on `url` any more (a killed workerd may outlive its parent by a moment). */
async function portClosed(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`${url} still answers after the kill`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
