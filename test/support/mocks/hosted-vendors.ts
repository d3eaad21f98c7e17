/**
 * The vendor mocks for the Worker's own tests, which run inside workerd and cannot start a server: the workers test
 * pool hands every outbound request to Node (vitest.config.ts `outboundService`, through `webhook-receiver.ts`), and a
 * request to `http://<name>.klaviyo.test` goes to a mock Klaviyo of its own for `<name>`, started on first use. A test
 * picks a fresh name (`crypto.randomUUID()`), so test files sharing a runtime never meet each other's vendor state,
 * and sets the destination's `base_url` to it, so the production plugin and engine talk to a Klaviyo that behaves like
 * the real one (including what happens to a bulk import job after its `202`).
 *
 * Besides the vendor's own API, each mock answers its frame's `/__mock/` routes (`requests`, `faults`) and:
 * - `GET /__mock/bulk-import-jobs`: the jobs received, `[{id, status, total_count, completed_count, failed_count}]`;
 * - `GET /__mock/list-members?name=tessera_vip`: the emails on that list;
 * - `GET /__mock/profiles?email=…`: the profiles with that email (all without it);
 * - `POST /__mock/bulk-import-delay?ms=…`: how long jobs received from now on stay `queued`;
 * - `POST /__mock/bulk-import-jobs/run`: runs every queued job now (`{ran: N}`).
 *
 * @example
 * const base = `http://${crypto.randomUUID()}.klaviyo.test`; // the destination's base_url, api_key "pk_test"
 * await fetch(`${base}/__mock/bulk-import-jobs`).then((r) => r.json());
 */
import { type MockKlaviyo, startMockKlaviyo } from "./klaviyo";

const HOST = /^([a-z0-9-]+)\.klaviyo\.test$/i;

export function hostedVendors() {
  const started = new Map<string, Promise<MockKlaviyo>>();
  const start = () => {
    let mock: MockKlaviyo | undefined;
    const ready = startMockKlaviyo({
      // A test of the engine waits for its own drains, not Klaviyo's windows (the plugin tests cover those).
      rateLimits: Object.fromEntries(
        [
          "profile-import",
          "profiles",
          "lists",
          "list-create",
          "relationships",
          "deletion",
          "bulk-import",
          "bulk-import-read",
        ].map((endpoint) => [endpoint, { burst: 10_000, steady: 100_000 }]),
      ),
      unref: true,
      control: (app) => {
        app.get("/__mock/bulk-import-jobs", (c) =>
          c.json(
            (mock?.bulkImportJobs() ?? []).map(({ id, status, total_count, completed_count, failed_count }) => ({
              id,
              status,
              total_count,
              completed_count,
              failed_count,
            })),
          ),
        );
        app.get("/__mock/list-members", (c) => c.json(mock?.listMembers(c.req.query("name") ?? "") ?? []));
        app.get("/__mock/profiles", (c) => {
          const email = c.req.query("email");
          return c.json((mock?.profiles() ?? []).filter((p) => email === undefined || p.email === email));
        });
        app.post("/__mock/bulk-import-delay", (c) => {
          mock?.setBulkImportDelay(Number(c.req.query("ms")));
          return c.body(null, 204);
        });
        app.post("/__mock/bulk-import-jobs/run", (c) => c.json({ ran: mock?.runBulkImportJobs() ?? 0 }));
      },
    });
    return ready.then((m) => {
      mock = m;
      return m;
    });
  };
  return {
    /** The mock's answer for a request to a hosted vendor's host; undefined for any other host. */
    async handle(request: Request): Promise<Response | undefined> {
      const url = new URL(request.url);
      if (!HOST.test(url.hostname)) return undefined;
      let mock = started.get(url.hostname);
      if (!mock) {
        mock = start();
        started.set(url.hostname, mock);
      }
      const headers = new Headers(request.headers);
      // Node's fetch sets these for the body it sends (and refuses a request that carries them already).
      for (const name of ["host", "content-length", "transfer-encoding", "connection"]) headers.delete(name);
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      return fetch(`${(await mock).url}${url.pathname}${url.search}`, { method: request.method, headers, body });
    },
  };
}
