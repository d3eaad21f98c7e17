#!/usr/bin/env node
/** The `tessera` executable: the real process handed to {@link main}. Ctrl-C once stops cleanly, twice at once. */
import { main } from "./main";

const controller = new AbortController();
process.on("SIGINT", () => {
  if (controller.signal.aborted) process.exit(130);
  process.stderr.write("\nStopping after the batches in flight (Ctrl-C again to quit now)…\n");
  controller.abort();
});

try {
  process.exitCode = await main(process.argv.slice(2), {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    tty: process.stderr.isTTY === true,
    signal: controller.signal,
  });
} catch (err) {
  process.stderr.write(`tessera: unexpected error (a bug; please report it)\n${(err as Error).stack ?? err}\n`);
  process.exitCode = 70;
}
// Ctrl-C's listener, or a paused stdin, must not keep the process alive once the work is done.
process.removeAllListeners("SIGINT");
