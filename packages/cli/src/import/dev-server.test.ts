import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useDevServer } from "../../../../test/support/dev-server";
import { pollUntil } from "../../../../test/support/poll-until";
import { runCli } from "../../test-support/run-cli";

/** A POS export through `tessera import` into the platform as `npm run dev` runs it, then read back (DESIGN §10). */
describe("tessera import against the dev server", () => {
  const dev = useDevServer();

  const read = async (ref: string, suffix = "") => {
    const res = await fetch(`${dev().url}/v1/profiles/${encodeURIComponent(ref)}${suffix}`, {
      headers: { authorization: `Bearer ${dev().secretKey}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it("stores each row once, stitched by email, however many times the file is imported", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-import-e2e-"));
    const file = path.join(dir, "pos-export.csv");
    writeFileSync(
      file,
      [
        "receipt_id,customer_id,email,total,items,store,purchased_at",
        'R-9001,C-900,Pos.Buyer@Example.com,59.90,"Mug, large",0042,2024-03-01T10:15:00Z',
        'R-9002,C-900,pos.buyer@example.com,12,"Tea, green\n(2 boxes)",0042,2024-03-02T09:00:00Z',
        'R-9003,C-901,other@example.com,5,"Pen",0007,2024-03-02T10:00:00Z',
      ].join("\r\n"),
    );
    const argv = [
      "import",
      file,
      "--host",
      dev().url,
      "--write-key",
      dev().writeKey,
      "--event",
      "Order Completed",
      "--user-id",
      "customer_id",
      "--email",
      "email",
      "--timestamp",
      "purchased_at",
      "--set",
      "channel=pos",
    ];

    const first = await runCli(argv);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("3 rows, 3 accepted, 0 rejected");

    const ref = "email:pos.buyer@example.com";
    const profile = await pollUntil(
      () => read(ref),
      (r) => r.status === 200 && r.body.event_count === 2,
      { within: 10_000 },
    );
    const events = await read(ref, "/events?limit=10");
    const data = events.body.data as Array<{
      event: string;
      messageId: string;
      timestamp: string;
      properties: unknown;
    }>;
    expect(data.map((e) => [e.event, e.timestamp, e.properties])).toEqual([
      [
        "Order Completed",
        "2024-03-02T09:00:00.000Z",
        { total: 12, items: "Tea, green\n(2 boxes)", store: "0042", receipt_id: "R-9002", channel: "pos" },
      ],
      [
        "Order Completed",
        "2024-03-01T10:15:00.000Z",
        { total: 59.9, items: "Mug, large", store: "0042", receipt_id: "R-9001", channel: "pos" },
      ],
    ]);

    const again = await runCli(argv);
    expect(again.code).toBe(0);
    // The collector says it held every row already: nothing of this run was stored, and the summary says so.
    expect(again.stdout).toContain("3 rows, 0 accepted, 3 already stored, 0 rejected");
    expect(again.stdout).toContain("not stored again — the same rows were imported before");
    const after = await read(ref);
    expect(after.body.event_count).toBe(profile.body.event_count);
    const eventsAfter = await read(ref, "/events?limit=10");
    expect((eventsAfter.body.data as Array<{ messageId: string }>).map((e) => e.messageId)).toEqual(
      data.map((e) => e.messageId),
    );
  });

  it("refuses in the dry run the ids the real run's default rules block, and both list the same unusable values", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-import-e2e-"));
    const file = path.join(dir, "crm-people.csv");
    writeFileSync(
      file,
      [
        "id,email,name",
        "0,,Zero",
        "-1,,Minus",
        "NULL,,Null",
        "undefined,,Undefined",
        "anonymous,,Anon",
        "u-blocklist-1,not-an-email,Ana",
        "0,zero.user@example.com,Zed",
        "u-blocklist-2,bo.blocklist@example.com,Bo",
      ].join("\n"),
    );
    const argv = ["import", file, "--as", "identify", "--user-id", "id", "--email", "email"];
    const lines = (suffix: string) =>
      readFileSync(`${file}.${suffix}.ndjson`, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { row: number; error?: string; warnings?: string[] });
    /** The rejects and warnings files of a real run, or (`"dry-run."`) of a dry run. */
    const outcome = (of = "") => ({
      rejects: lines(`${of}rejects`).map((r) => [r.row, r.error]),
      warnings: lines(`${of}warnings`).map((w) => [w.row, w.warnings]),
    });

    const dry = await runCli([...argv, "--dry-run"]);
    expect(dry.code).toBe(1);
    expect(dry.stdout).toContain("8 rows, 3 valid, 5 rejected");
    expect(dry.stdout).toContain("a workspace's own rules may block more");
    const judged = outcome("dry-run.");
    expect(judged.rejects).toEqual([
      [1, 'no usable identifier (user_id "0": user_id value is blocked by the rule /^[0-]*$/i)'],
      [2, 'no usable identifier (user_id "-1": user_id value is blocked by the rule /^-1$/i)'],
      [3, 'no usable identifier (user_id "NULL": user_id value is blocked by the rule /^null$/i)'],
      [4, 'no usable identifier (user_id "undefined": user_id value is blocked by the rule /^undefined$/i)'],
      [5, 'no usable identifier (user_id "anonymous": user_id value is blocked by the rule /^anonymous$/i)'],
    ]);
    expect(judged.warnings).toEqual([
      [6, ['email "not-an-email": email is not an address (no @)']],
      [7, ['user_id "0": user_id value is blocked by the rule /^[0-]*$/i']],
    ]);

    const real = await runCli([...argv, "--host", dev().url, "--write-key", dev().writeKey]);
    expect(real.code).toBe(1);
    expect(real.stdout).toContain("8 rows, 3 accepted, 5 rejected");
    expect(real.stdout).toContain("2 rows were stored by their other identifiers");
    // What the dry run judged is what the collector did.
    expect(outcome()).toEqual(judged);
    const zed = await pollUntil(
      () => read("email:zero.user@example.com"),
      (r) => r.status === 200,
      { within: 10_000 },
    );
    expect(zed.body.traits).toMatchObject({ name: "Zed" });
  });

  it("names the one mapping that imports an email-only CRM export, and that mapping imports it", async () => {
    // The premise: the collector refuses a message known only by its email (DESIGN §3: userId or anonymousId).
    const direct = await fetch(`${dev().url}/v1/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Basic ${btoa(`${dev().writeKey}:`)}` },
      body: JSON.stringify({ batch: [{ type: "identify", traits: { email: "only.email@example.com" } }] }),
    });
    const answer = (await direct.json()) as { accepted: number; rejected: Array<{ error: string }> };
    expect(answer.accepted).toBe(0);
    expect(answer.rejected[0].error).toMatch(/userId or anonymousId is required/);

    const dir = mkdtempSync(path.join(tmpdir(), "tessera-import-e2e-"));
    const file = path.join(dir, "crm-export.csv");
    writeFileSync(file, "Email,Name\nCrm.Only@Example.com,Ana\n");
    const base = ["import", file, "--host", dev().url, "--write-key", dev().writeKey, "--as", "identify"];
    const refused = await runCli([...base, "--email", "Email"]);
    expect(refused.code).toBe(2);
    const named = /send it as the anonymous id too: (.+)\n/.exec(refused.stderr)?.[1];
    expect(named).toBe("--anonymous-id Email --email Email");

    const run = await runCli([...base, ...(named as string).split(" ")]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("1 row, 1 accepted, 0 rejected");
    const profile = await pollUntil(
      () => read("email:crm.only@example.com"),
      (r) => r.status === 200,
      { within: 10_000 },
    );
    expect(profile.body.traits).toMatchObject({ email: "Crm.Only@Example.com", Name: "Ana" });
  });
});
