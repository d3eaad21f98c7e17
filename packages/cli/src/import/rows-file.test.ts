import { describe, expect, it } from "vitest";
import { dryRunPath } from "./rows-file";

describe("dryRunPath", () => {
  it("names a dry run's file beside the real one, with .dry-run before what it holds", () => {
    expect(dryRunPath("exports/orders.csv.rejects.ndjson")).toBe("exports/orders.csv.dry-run.rejects.ndjson");
    expect(dryRunPath("orders.csv.warnings.ndjson")).toBe("orders.csv.dry-run.warnings.ndjson");
    expect(dryRunPath("stdin.rejects.ndjson")).toBe("stdin.dry-run.rejects.ndjson");
    expect(dryRunPath("out/bad.ndjson")).toBe("out/bad.dry-run.ndjson");
    expect(dryRunPath("out.v2/bad")).toBe("out.v2/bad.dry-run");
  });
});
