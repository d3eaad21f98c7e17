/**
 * `npm run dev` serves through wrangler's local proxy (its ProxyWorker, in a workerd of its own). wrangler 4.86's
 * parks a GET whose connection to the Worker failed and works through the parked ones only when the next request
 * arrives: a page waiting on that one request, with nothing else sent, waited for good. Tessera patches it
 * (`patches/wrangler+4.86.0.patch`, applied by `npm install`) to try such a GET again by itself. This runs the
 * installed ProxyWorker as wrangler does — same file, wrangler's own Miniflare and workerd — in front of a stand-in
 * Worker that drops the first connection, and sends nothing else.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const wranglerDir = path.dirname(createRequire(import.meta.url).resolve("wrangler/package.json"));
/** What this file uses of Miniflare: wrangler's own (4.x), not the test pool's, whose types `miniflare` names here. */
interface ProxyRuntime {
  dispatchFetch(url: string, init?: RequestInit & { cf?: unknown }): Promise<Response>;
  dispose(): Promise<void>;
}
const { Miniflare } = createRequire(path.join(wranglerDir, "package.json"))("miniflare") as {
  Miniflare: new (options: Record<string, unknown>) => ProxyRuntime;
};
const PROXY_WORKER = path.join(wranglerDir, "wrangler-dist", "ProxyWorker.js");
const SECRET = "proxy-controller-secret";

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanup.map((fn) => fn()));
  cleanup = [];
});

/** A stand-in for the local Worker: drops the connection of its first request, answers the others. */
async function workerDroppingFirstConnection(): Promise<{ port: number; requests: () => number }> {
  let seen = 0;
  const server = createServer((req, res) => {
    seen++;
    if (seen === 1) req.socket.destroy();
    else res.end(`answered ${req.url}`);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as AddressInfo).port, requests: () => seen };
}

/** wrangler's proxy as `wrangler dev` configures it, told to forward to `port`. */
async function proxyTo(port: number): Promise<ProxyRuntime> {
  const mf = new Miniflare({
    compatibilityDate: "2023-12-18",
    compatibilityFlags: ["nodejs_compat"],
    modulesRoot: path.dirname(PROXY_WORKER),
    modules: [{ type: "ESModule", path: PROXY_WORKER }],
    durableObjects: { DURABLE_OBJECT: { className: "ProxyWorker", unsafePreventEviction: true } },
    serviceBindings: { PROXY_CONTROLLER: async () => new Response(null, { status: 204 }) },
    bindings: { PROXY_CONTROLLER_AUTH_SECRET: SECRET },
    unsafeEphemeralDurableObjects: true,
  });
  cleanup.push(() => mf.dispose());
  const proxyData = { userWorkerUrl: { protocol: "http:", hostname: "127.0.0.1", port: String(port) }, headers: {} };
  const play = await mf.dispatchFetch("http://dummy/cdn-cgi/ProxyWorker/play", {
    headers: { Authorization: SECRET },
    cf: { hostMetadata: { type: "play", proxyData } },
  });
  expect(play.status).toBe(204);
  return mf;
}

describe("wrangler's local proxy, as npm install patches it", () => {
  it("answers a GET whose connection to the Worker failed, though no other request follows", async () => {
    const worker = await workerDroppingFirstConnection();
    const mf = await proxyTo(worker.port);

    const res = await mf.dispatchFetch("http://localhost:8787/console/app.css", {
      signal: AbortSignal.timeout(10_000),
    });
    expect({ status: res.status, body: await res.text() }).toEqual({ status: 200, body: "answered /console/app.css" });
    expect(worker.requests()).toBe(2);
  });
});
