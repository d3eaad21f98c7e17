import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

const DIST = path.join(import.meta.dirname, "../../packages/browser/dist");

/** One POST /v1/batch as the recording collector saw it. */
export interface RecordedBatch {
  at: number;
  headers: IncomingHttpHeaders;
  body: { batch: { messageId: string; type: string; [k: string]: unknown }[]; writeKey: string; sentAt: string };
  status: number;
}

/** How the recording collector answers the next POST. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  /** Answers only after this many ms (a slow collector: the request stays in flight meanwhile). */
  delay?: number;
}

/** A page the site serves: the inline snippet, `tessera.load(writeKey, loadOptions)`, then `script`. */
export interface PageSpec {
  loadOptions?: Record<string, unknown>;
  script?: string;
  title?: string;
  writeKey?: string;
}

export interface Site {
  url: string;
  /** Every POST /v1/batch received, in order. */
  batches: RecordedBatch[];
  /** Queue answers for the next POSTs (then 200). */
  answer(...answers: Answer[]): void;
  /** Serve `spec` at `pathname` (any query string). */
  page(pathname: string, spec: PageSpec): void;
  /** Message ids of every accepted (2xx) delivery, duplicates included. */
  deliveredIds(): string[];
  /** Delay the SDK script by this many ms (to test calls made before it loads). */
  scriptDelay: number;
  close(): Promise<void>;
}

/**
 * A local website for the SDK tests: serves pages with the inline snippet and the built SDK, and records
 * `POST /v1/batch` like a collector (CORS open, `Retry-After` exposed) with scripted answers.
 * With `idEndpointOf`, `GET /v1/id` is passed through to that Worker (cookies both ways), as a site would route
 * its collector subdomain.
 */
export async function startSite(siteOptions: { idEndpointOf?: string } = {}): Promise<Site> {
  const snippet = readFileSync(path.join(DIST, "snippet.min.js"), "utf8");
  const sdk = readFileSync(path.join(DIST, "tessera.min.js"), "utf8");
  const pages = new Map<string, PageSpec>();
  const answers: Answer[] = [];
  const batches: RecordedBatch[] = [];
  const cors = { "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After" };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "OPTIONS") {
      res.writeHead(204, { ...cors, "Access-Control-Allow-Headers": "Content-Type" }).end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/v1/batch") {
      let raw = "";
      req.on("data", (d) => {
        raw += d;
      });
      req.on("end", () => {
        const answer = answers.shift() ?? { status: 200 };
        const respond = () => {
          const body = JSON.parse(raw) as RecordedBatch["body"];
          batches.push({ at: Date.now(), headers: req.headers, body, status: answer.status });
          const reply = answer.status < 300 ? { success: true, accepted: body.batch.length, rejected: [] } : {};
          res.writeHead(answer.status, { ...cors, ...answer.headers, "Content-Type": "application/json" });
          res.end(JSON.stringify(reply));
        };
        if (answer.delay) setTimeout(respond, answer.delay);
        else respond();
      });
      return;
    }
    if (url.pathname === "/v1/id" && siteOptions.idEndpointOf) {
      const upstream = fetch(`${siteOptions.idEndpointOf}${req.url}`, {
        headers: { cookie: req.headers.cookie ?? "" },
      });
      void upstream
        .then(async (r) => {
          const headers: Record<string, string | string[]> = { "Content-Type": "application/json" };
          const cookies = r.headers.getSetCookie();
          if (cookies.length) headers["Set-Cookie"] = cookies;
          res.writeHead(r.status, headers).end(await r.text());
        })
        // The Worker's local proxy can drop a connection (see test/support/dev-proxy.ts): the page sees a 502, as it
        // would from a real gateway, and the test process no unhandled rejection.
        .catch(() => {
          if (!res.headersSent) res.writeHead(502);
          res.end();
        });
      return;
    }
    if (url.pathname === "/sdk/tessera.min.js") {
      setTimeout(() => {
        res.writeHead(200, { "Content-Type": "application/javascript", "Cache-Control": "no-store" }).end(sdk);
      }, site.scriptDelay);
      return;
    }
    const spec = pages.get(url.pathname);
    if (!spec) {
      res.writeHead(404).end();
      return;
    }
    const options = { apiHost: site.url, cdn: site.url, ...spec.loadOptions };
    res.writeHead(200, { "Content-Type": "text/html", "Cache-Control": "no-store" });
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${spec.title ?? "Test page"}</title>
<script>${snippet}
tessera.load(${JSON.stringify(spec.writeKey ?? "wk_test")}, ${JSON.stringify(options)});
${spec.script ?? ""}</script></head><body><a id="away" href="/away">away</a></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const site: Site = {
    url: `http://localhost:${(server.address() as AddressInfo).port}`,
    batches,
    scriptDelay: 0,
    answer: (...a) => {
      answers.push(...a);
    },
    page: (pathname, spec) => {
      pages.set(pathname, spec);
    },
    deliveredIds: () => batches.filter((b) => b.status < 300).flatMap((b) => b.body.batch.map((m) => m.messageId)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return site;
}
