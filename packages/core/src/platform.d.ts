/** Runs `fn` after `ms`; returns a cancel function. */
export declare function later(fn: () => void, ms: number): () => void;
/** Logs a developer-facing warning when the runtime has a console; never throws. */
export declare function warn(...args: unknown[]): void;
/**
 * A UUIDv4. `crypto.randomUUID` only exists in secure contexts, so plain-http pages fall back to
 * `getRandomValues`, and runtimes without Web Crypto to Math.random (ids stay unique enough to deduplicate on).
 */
export declare function uuid(): string;
