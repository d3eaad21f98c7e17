// Types of platform.mjs for the TypeScript benchmarks that reuse it (bench/activation).
export interface BenchPlatform {
  url: string;
  batch(body: unknown): Promise<{ accepted: number }>;
  api(method: string, route: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  profile(ref: string): Promise<unknown>;
  output(): string;
  stop(): Promise<void>;
}
/** `phase` names its log when logs are kept (`keepLogsIn`). */
export function freshPlatform(phase?: string): Promise<BenchPlatform>;
export function keepLogsIn(dir: string): void;
export function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: { within: number; every?: number },
): Promise<T>;
export function sendBatches(
  platform: BenchPlatform,
  make: (n: number) => { body: unknown },
  count: number,
  concurrency: number,
): Promise<{ events: number; seconds: number }>;
export function pct(xs: number[], p: number): number;
