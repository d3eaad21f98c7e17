/** Runs `tessera …` in this process with captured output and an instant clock for backoff, for the CLI's tests. */
import { PassThrough, Readable } from "node:stream";
import { main } from "../src/main";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Every backoff the command asked for, in ms (none is actually waited). */
  sleeps: number[];
}

export interface RunCliOptions {
  stdin?: string | Buffer;
  env?: Record<string, string | undefined>;
  tty?: boolean;
  signal?: AbortSignal;
  progressIntervalMs?: number;
}

/** @example const { code, stdout } = await runCli(["import", "sales.csv", "--dry-run", "--event", "Sale", "--user-id", "id"]); */
export async function runCli(argv: string[], options: RunCliOptions = {}): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on("data", (chunk) => out.push(String(chunk)));
  stderr.on("data", (chunk) => err.push(String(chunk)));
  const sleeps: number[] = [];
  const code = await main(argv, {
    env: options.env ?? {},
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    stdout,
    stderr,
    tty: options.tty ?? false,
    signal: options.signal,
    progressIntervalMs: options.progressIntervalMs,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { code, stdout: out.join(""), stderr: err.join(""), sleeps };
}
