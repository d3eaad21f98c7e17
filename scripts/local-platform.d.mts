export const ROOT: string;
export interface DevKeys {
  workspaceId: string;
  writeKey: string;
  secretKey: string;
  adminToken: string;
}
export function devKeys(env?: Record<string, string | undefined>): DevKeys;
export function prepareLocalState(options: { persistTo: string; quiet?: boolean }): void;
export function seedDevWorkspace(options: { url: string; keys?: DevKeys }): Promise<void>;
export function freePort(): Promise<number>;
export function configuredCrons(configPath?: string): Promise<string[]>;
export function startCronTicker(options: {
  url: string;
  crons: string[];
  /** One minute unless a test asks for less. */
  intervalMs?: number;
  report?: (message: string) => void;
}): { stop(): void };
export function startWrangler(options: {
  /** A free one when omitted (another is tried if it is taken before wrangler binds it). */
  port?: number;
  persistTo: string;
  keys?: DevKeys;
  vars?: Record<string, string>;
  config?: string;
  inherit?: boolean;
  /** The DevTools inspector port (a free one when omitted). */
  inspectorPort?: number;
  /** A file that keeps all of wrangler's output, appended to (only the last 20,000 characters are kept otherwise). */
  logTo?: string;
}): Promise<{ url: string; child: import("node:child_process").ChildProcess; stop(): Promise<void>; output(): string }>;
