import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  devKeys,
  freePort,
  prepareLocalState,
  seedDevWorkspace,
  startWrangler,
} from "../../scripts/local-platform.mjs";

export interface DevServer {
  url: string;
  writeKey: string;
  secretKey: string;
  adminToken: string;
  stop(): Promise<void>;
}

/**
 * The platform as `npm run dev` runs it (same script, same seed), on a free port with its own fresh state,
 * so end-to-end tests can run side by side and never see each other's data.
 */
export async function startDevServer(options: { vars?: Record<string, string> } = {}): Promise<DevServer> {
  const persistTo = mkdtempSync(path.join(tmpdir(), "tessera-e2e-"));
  const keys = devKeys({});
  prepareLocalState({ persistTo, quiet: true });
  const port = await freePort();
  const server = await startWrangler({ port, persistTo, keys, vars: options.vars });
  await seedDevWorkspace({ url: server.url, keys }).catch(async (err) => {
    await server.stop();
    throw err;
  });
  return {
    url: server.url,
    writeKey: keys.writeKey,
    secretKey: keys.secretKey,
    adminToken: keys.adminToken,
    async stop() {
      await server.stop();
      rmSync(persistTo, { recursive: true, force: true });
    },
  };
}
