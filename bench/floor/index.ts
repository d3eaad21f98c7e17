/**
 * Floors for the ingestion benchmark:
 *  (b) POST /floor/parse — parse the body and validate every message, nothing else;
 *  (c) POST /floor/do    — (b), then write each visitor's events into that visitor's Durable Object (one RPC and
 *                          one SQLite commit per visitor per batch, events unique by messageId). Also answers
 *                          POST /v1/batch, gzipped or not, so `tessera import` can be pointed at it unchanged.
 *  (s) POST /floor/shard — (c), but visitors share 64 objects by a hash of their id: what storing visitors without
 *                          one new object each would cost (not Tessera's design, DESIGN §2; a measure for it).
 * Tessera's /v1/batch does (c) plus auth, enrichment, identity resolution and traits, so a/c says what those cost.
 */

import { DurableObject } from "cloudflare:workers";
import { validateMessage } from "@tessera/protocol";

interface FloorEnv {
  VISITOR: DurableObjectNamespace<VisitorDO>;
}

type Row = { messageId: string; type: string; timestamp: string; body: string };

export class VisitorDO extends DurableObject<FloorEnv> {
  constructor(ctx: DurableObjectState, env: FloorEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS events (message_id TEXT PRIMARY KEY, type TEXT, ts TEXT, body TEXT NOT NULL)",
    );
  }

  append(rows: Row[]): number {
    let inserted = 0;
    for (const r of rows) {
      inserted += this.ctx.storage.sql.exec(
        "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?)",
        r.messageId,
        r.type,
        r.timestamp,
        r.body,
      ).rowsWritten;
    }
    return inserted;
  }
}

/** One of {@link SHARDS} objects for a visitor id (FNV-1a). */
const SHARDS = 64;
function shardOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % SHARDS;
}

function parseAndValidate(text: string) {
  const body = JSON.parse(text) as { batch?: unknown[] };
  const valid: Array<Record<string, unknown>> = [];
  (body.batch ?? []).forEach((raw, i) => {
    const result = validateMessage(raw, i);
    if (result.ok) valid.push(result.message as unknown as Record<string, unknown>);
  });
  return valid;
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/health") return Response.json({ ok: true });
    if (request.method !== "POST") return new Response("not found", { status: 404 });
    const gzipped = request.headers.get("content-encoding") === "gzip" && request.body;
    const text = gzipped
      ? await new Response(request.body.pipeThrough(new DecompressionStream("gzip"))).text()
      : await request.text();
    const valid = parseAndValidate(text);
    if (pathname === "/floor/parse") return Response.json({ success: true, accepted: valid.length });
    const sharded = pathname === "/floor/shard";
    if (!sharded && pathname !== "/floor/do" && pathname !== "/v1/batch") {
      return new Response("not found", { status: 404 });
    }
    const byVisitor = new Map<string, Row[]>();
    for (const m of valid) {
      const id = String(m.anonymousId ?? m.userId);
      const visitor = sharded ? `shard-${shardOf(id)}` : id;
      const rows = byVisitor.get(visitor) ?? [];
      const messageId = String(m.messageId ?? crypto.randomUUID());
      rows.push({ messageId, type: String(m.type), timestamp: String(m.timestamp ?? ""), body: JSON.stringify(m) });
      byVisitor.set(visitor, rows);
    }
    await Promise.all([...byVisitor].map(([visitor, rows]) => env.VISITOR.getByName(visitor).append(rows)));
    return Response.json({ success: true, accepted: valid.length, rejected: [] });
  },
} satisfies ExportedHandler<FloorEnv>;
