/** A customer's webhook endpoint on loopback for the console's destination tests: answers with `status`, counts calls. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface HookServer {
  url: string;
  /** The status the next requests get. */
  status: number;
  received: Array<{ type?: string }>;
  close(): Promise<void>;
}

export async function startHookServer(status = 200): Promise<HookServer> {
  const hook = { status, received: [] as Array<{ type?: string }> } as HookServer;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      try {
        hook.received.push(JSON.parse(body));
      } catch {
        hook.received.push({});
      }
      res.writeHead(hook.status).end(hook.status < 300 ? "ok" : "refused");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  hook.close = () => new Promise((resolve) => server.close(() => resolve()));
  return hook;
}
