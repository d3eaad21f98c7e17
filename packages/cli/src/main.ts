/**
 * `tessera <command>`: argv → the command that runs. Only `import` today (DESIGN §10); operator commands join it
 * here, each in its own folder.
 */
import { version } from "../package.json";
import { parseImportArgs } from "./import/args";
import { EXIT, type RunDeps, runImport } from "./import/run";
import { IMPORT_USAGE } from "./import/usage";

/** The process around a command: its streams, environment and the seams tests replace. */
export interface CliIO extends RunDeps {
  env: Readonly<Record<string, string | undefined>>;
}

const USAGE = `Usage: tessera <command> [options]

Commands
  import <file>   load a CSV, NDJSON or JSON file into Tessera (tessera import --help)

Options
  -h, --help      this text
  -v, --version   the CLI's version
`;

/**
 * Runs `argv` (the words after `tessera`) and returns the exit code.
 *
 * @example process.exitCode = await main(["import", "sales.csv", "--dry-run", "--event", "Sale", "--user-id", "id"], io);
 */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  // No command is a usage error like an unknown one (code 2 on stderr): a script that lost its arguments must not
  // read as a successful import.
  if (command === undefined) {
    io.stderr.write(`tessera: which command?\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (command === "-h" || command === "--help" || command === "help") {
    const topic = command === "help" ? rest[0] : undefined;
    io.stdout.write(topic === "import" ? IMPORT_USAGE : USAGE);
    return EXIT.ok;
  }
  if (command === "-v" || command === "--version") {
    io.stdout.write(`${version}\n`);
    return EXIT.ok;
  }
  if (command !== "import") {
    io.stderr.write(`tessera: unknown command "${command}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  const parsed = parseImportArgs(rest, io.env);
  if (parsed.kind === "help") {
    io.stdout.write(IMPORT_USAGE);
    return EXIT.ok;
  }
  if (parsed.kind === "error") {
    io.stderr.write(`tessera import: ${parsed.error}\nRun "tessera import --help" for the options.\n`);
    return EXIT.usage;
  }
  return runImport(parsed.options, io);
}
