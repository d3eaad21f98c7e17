import { describe, expect, it } from "vitest";
import { runCli } from "../test-support/run-cli";

describe("tessera", () => {
  it("prints the import usage, with a point-of-sale example, for --help", async () => {
    for (const argv of [
      ["import", "--help"],
      ["import", "-h"],
      ["help", "import"],
    ]) {
      const run = await runCli(argv);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: tessera import <file> --host <url> --write-key <key> \[options\]/);
      expect(run.stdout).toContain("Example: a point-of-sale export");
      expect(run.stdout).toContain('--event "Order Completed" --user-id customer_id');
    }
  });

  it("lists the commands, and refuses an unknown one with code 2", async () => {
    expect((await runCli(["--help"])).stdout).toMatch(/^Usage: tessera <command>[\s\S]*import <file>/);
    const unknown = await runCli(["imprt", "x.csv"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^tessera: unknown command "imprt"/);
  });

  it("prints the usage on stderr with code 2 when given no command (a usage error, like an unknown one)", async () => {
    const run = await runCli([]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^tessera: which command\?\n\nUsage: tessera <command> \[options\][\s\S]*import <file>/);
  });

  it("explains a bad import argument with code 2 and a pointer to --help", async () => {
    const run = await runCli(["import", "sales.csv", "--dry-run", "--user-id", "id"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'tessera import: track rows need an event name: --event "Order Completed" (or --as identify)\n' +
        'Run "tessera import --help" for the options.\n',
    );
  });

  it("refuses --set with an empty value with code 2, before reading the file", async () => {
    const run = await runCli([
      "import",
      "missing.csv",
      "--dry-run",
      "--event",
      "Sale",
      "--user-id",
      "id",
      "--set",
      "store=",
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^tessera import: --set store=: the value is empty/);
  });

  it("prints its version", async () => {
    expect((await runCli(["--version"])).stdout).toBe("0.1.0\n");
  });
});
