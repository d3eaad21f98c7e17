/**
 * The few globals every JavaScript runtime has (browsers, React Native, Node, workerd), typed here because core
 * compiles without the DOM or Node libs on purpose: anything else must come in through a seam.
 */
interface RuntimeGlobals {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  crypto?: { randomUUID?: () => string; getRandomValues?: (bytes: Uint8Array) => Uint8Array };
  console?: { warn(...args: unknown[]): void };
}

const runtime = globalThis as unknown as RuntimeGlobals;

/** Runs `fn` after `ms`; returns a cancel function. */
export function later(fn: () => void, ms: number): () => void {
  const handle = runtime.setTimeout(fn, ms);
  return () => runtime.clearTimeout(handle);
}

/** Logs a developer-facing warning when the runtime has a console; never throws. */
export function warn(...args: unknown[]): void {
  runtime.console?.warn("[tessera]", ...args);
}

/**
 * A UUIDv4. `crypto.randomUUID` only exists in secure contexts, so plain-http pages fall back to
 * `getRandomValues`, and runtimes without Web Crypto to Math.random (ids stay unique enough to deduplicate on).
 */
export function uuid(): string {
  const c = runtime.crypto;
  if (c?.randomUUID) return c.randomUUID();
  const b = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  return Array.from(b, (x) => (x + 256).toString(16).slice(1))
    .join("")
    .replace(/(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
}
