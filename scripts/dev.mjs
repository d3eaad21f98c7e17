// `npm run dev`: the whole platform on http://localhost:8787 — migrated, seeded, state kept across restarts.
import { spawnSync } from "node:child_process";
import path from "node:path";
import {
  configuredCrons,
  devKeys,
  prepareLocalState,
  ROOT,
  seedDevWorkspace,
  startCronTicker,
  startWrangler,
} from "./local-platform.mjs";

const persistTo = path.join(ROOT, ".wrangler", "state");
const port = Number(process.env.PORT ?? 8787);
const keys = devKeys();

const build = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
prepareLocalState({ persistTo, quiet: true });
const { url, stop } = await startWrangler({ port, persistTo, keys, inherit: true });
await seedDevWorkspace({ url, keys }).catch(async (err) => {
  await stop();
  throw err;
});
console.log(`
Tessera is running on ${url}
  write key  ${keys.writeKey}    (POST ${url}/v1/batch, Basic auth with the key as user)
  secret key ${keys.secretKey}    (GET  ${url}/v1/profiles/:ref, Bearer)
  admin      ${keys.adminToken}  (POST ${url}/v1/workspaces)
  demo page  ${url}/demo
  cron       every minute, as on Cloudflare (GET ${url}/cdn-cgi/handler/scheduled runs it now)
`);
const cron = startCronTicker({ url, crons: await configuredCrons() });
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    cron.stop();
    return stop().then(() => process.exit(0));
  });
