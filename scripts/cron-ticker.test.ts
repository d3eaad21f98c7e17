/**
 * `npm run dev` runs the Worker's cron as Cloudflare would (crons never fire by themselves under `wrangler dev`):
 * the ticker against a local server standing in for wrangler's `/cdn-cgi/handler/scheduled`, on a short interval.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { configuredCrons, startCronTicker } from "./local-platform.mjs";

let server: Server | undefined;
afterEach(() => server?.close());

/** A server that records each request's path and answers 500 to the first `failFirst`. */
async function scheduledEndpoint(failFirst = 0) {
  const paths: string[] = [];
  server = createServer((req, res) => {
    paths.push(req.url ?? "");
    res.statusCode = paths.length <= failFirst ? 500 : 200;
    res.end(paths.length <= failFirst ? "handler threw" : "ok");
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

describe("the local cron ticker", () => {
  it("runs the every-minute cron on each interval, goes on after a failed run, and stops", async () => {
    const { url, paths } = await scheduledEndpoint(1);
    const reports: string[] = [];
    const ticker = startCronTicker({ url, crons: ["* * * * *"], intervalMs: 200, report: (m) => reports.push(m) });
    await expect.poll(() => paths.length, { timeout: 3_000 }).toBeGreaterThanOrEqual(3);
    ticker.stop();
    const seen = paths.length;
    expect(new Set(paths)).toEqual(new Set(["/cdn-cgi/handler/scheduled?cron=*%20*%20*%20*%20*"]));
    expect(reports).toEqual(['cron "* * * * *" failed (500): handler threw']);
    await new Promise((r) => setTimeout(r, 500));
    expect(paths.length).toBe(seen);
  });

  it("leaves other schedules to the endpoint, and says so", async () => {
    const { url, paths } = await scheduledEndpoint();
    const reports: string[] = [];
    const ticker = startCronTicker({ url, crons: ["0 3 * * *"], intervalMs: 100, report: (m) => reports.push(m) });
    await new Promise((r) => setTimeout(r, 350));
    ticker.stop();
    expect(paths).toEqual([]);
    expect(reports).toEqual([
      `cron "0 3 * * *" is not run locally; run it with GET ${url}/cdn-cgi/handler/scheduled?cron=0%203%20*%20*%20*`,
    ]);
  });

  it("reads the Worker's crons from wrangler.toml", async () => {
    expect(await configuredCrons()).toEqual(["* * * * *"]);
  });
});
