// The two load shapes of the ingestion benchmark, as Segment-format batches.

const iso = (ms) => new Date(ms).toISOString();

/**
 * Browser: one visitor's 20 events per batch (page views, tracks, ~10% identify calls that attach a user id
 * and an email), a new visitor on every batch.
 */
export function browserBatch(runId, n) {
  const anonymousId = `anon-${runId}-${n}`;
  const base = Date.now() - 20_000;
  const batch = [];
  for (let i = 0; i < 20; i++) {
    const common = { anonymousId, messageId: `${anonymousId}-${i}`, timestamp: iso(base + i * 1000) };
    if (i === 10 || i === 19) {
      batch.push({
        ...common,
        type: "identify",
        userId: `user-${runId}-${n}`,
        traits: { email: `visitor${n}.${runId}@example.com`, plan: "pro" },
      });
    } else if (i % 4 === 0) {
      batch.push({ ...common, type: "page", name: "Home", properties: { path: `/p/${i}`, title: "Home" } });
    } else {
      batch.push({ ...common, type: "track", event: "Product Viewed", properties: { sku: `sku-${i}`, price: i * 3 } });
    }
  }
  return { visitor: `anonymous_id:${anonymousId}`, body: { batch, sentAt: iso(Date.now()) } };
}

/** Server with returning people: 100 messages per batch from visitors drawn (seeded by `n`) among 1,000. */
export function serverBatch(runId, n, visitors = 1000) {
  const batch = [];
  const now = Date.now();
  for (let i = 0; i < 100; i++) {
    const v = (n * 7919 + i * 104_729) % visitors;
    batch.push({
      type: "track",
      event: "Order Completed",
      anonymousId: `srv-${runId}-${v}`,
      messageId: `srv-${runId}-${n}-${i}`,
      timestamp: iso(now - 1000 + i),
      properties: { order_id: `o-${n}-${i}`, total: 42.5, channel: "pos" },
    });
  }
  // The last message is the latency probe: an event name of its own, so it can be found among the visitor's events.
  const last = batch[batch.length - 1];
  last.event = `Probe ${n}`;
  return {
    visitor: `anonymous_id:${last.anonymousId}`,
    probe: `event=${encodeURIComponent(last.event)}&`,
    body: { batch, sentAt: iso(now) },
  };
}

/** The first batch that sees each of the server shape's 1,000 visitors, so the timed run measures steady state. */
export function serverWarmup(runId, visitors = 1000) {
  const batches = [];
  for (let start = 0; start < visitors; start += 100) {
    const batch = [];
    for (let v = start; v < start + 100; v++) {
      batch.push({ type: "track", event: "Warmup", anonymousId: `srv-${runId}-${v}`, messageId: `warm-${runId}-${v}` });
    }
    batches.push({ body: { batch } });
  }
  return batches;
}

/**
 * Server with new people: 100 messages per batch from 100 visitors never seen before (run id + batch + slot), 10% of
 * them identify calls with a user id and an email — the shape of a POS or CRM export.
 */
export function serverNewBatch(runId, n) {
  const batch = [];
  const now = Date.now();
  for (let i = 0; i < 100; i++) {
    const anonymousId = `new-${runId}-${n}-${i}`;
    const common = { anonymousId, messageId: `new-${runId}-${n}-${i}`, timestamp: iso(now - 1000 + i) };
    if (i % 10 === 0) {
      batch.push({
        ...common,
        type: "identify",
        userId: `cust-${runId}-${n}-${i}`,
        traits: { email: `c${n}.${i}.${runId}@example.com` },
      });
    } else {
      batch.push({ ...common, type: "track", event: "Order Completed", properties: { total: 42.5, channel: "pos" } });
    }
  }
  return { body: { batch, sentAt: iso(now) } };
}

/** A point-of-sale export: `rows` receipts from `customers` customers (each with an email), as CSV text. */
export function posCsv(rows, customers) {
  const lines = ["receipt_id,customer_id,email,total,items,store,purchased_at"];
  const start = Date.parse("2026-01-01T09:00:00Z");
  for (let r = 0; r < rows; r++) {
    // Deterministic, spread: receipt r belongs to customer (r * 7919) mod customers.
    const c = (r * 7919) % customers;
    const when = new Date(start + r * 37_000).toISOString();
    lines.push(`R-${r},C-${c},customer${c}@example.com,${(10 + (r % 90)).toFixed(2)},"Mug, large",00${r % 40},${when}`);
  }
  return `${lines.join("\n")}\n`;
}
