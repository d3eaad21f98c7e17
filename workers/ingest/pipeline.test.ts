import type { AcceptedMessage, Identifier } from "@tessera/protocol";
import { describe, expect, it, vi } from "vitest";
import type { ResolveInput, ResolveOutcome } from "../identity/identity-store";
import { DEFAULT_IDENTITY_RULES } from "../identity/rules";
import type { IngestInput, IngestOutcome } from "../profile/profile-rpc";
import { type IngestDeps, ingestMessages, runJob } from "./pipeline";

const at = "2025-03-01T10:00:00.000Z";
const msg = (id: string, anonymousId: string, extra: Partial<AcceptedMessage> = {}) =>
  ({
    type: "track",
    event: "E",
    messageId: id,
    anonymousId,
    timestamp: at,
    receivedAt: at,
    context: {},
    ...extra,
  }) as AcceptedMessage;
const items = (...messages: AcceptedMessage[]) => messages.map((message, index) => ({ index, message }));

/** Fakes: identity maps each anonymous id to `prf_<id>` unless told otherwise; profiles record their calls. */
function fakes(options: {
  outcome?: (input: ResolveInput) => ResolveOutcome;
  ingest?: (id: string, input: IngestInput) => IngestOutcome;
  mergeFails?: boolean;
  /** Thrown by the first folds, one each, before they succeed. */
  foldErrors?: Error[];
}) {
  const calls: Array<{ id: string; input: IngestInput }> = [];
  const merges: Array<[string, string]> = [];
  const redirects: Array<[string, string]> = [];
  const forgotten: string[] = [];
  const resolves: ResolveInput[][] = [];
  const deps: IngestDeps = {
    loadRules: async () => DEFAULT_IDENTITY_RULES,
    definitionsVersion: async () => 0,
    identity: {
      async resolve(_ws, _rules, inputs) {
        resolves.push(inputs);
        return inputs.map(
          options.outcome ??
            ((input) => ({
              kind: "profile",
              profileId: `prf_${input.identifiers[0].value}`,
              created: true,
              attached: input.identifiers,
              dropped: [],
              merged: [],
            })),
        );
      },
      redirect: (_ws, from, to) => redirects.push([from, to]),
      forgetProfile: (_ws, id) => forgotten.push(id),
      forgetIdentifiers: (_ws, ids) => forgotten.push(...ids.map((i) => `${i.type}:${i.value}`)),
    },
    profile: (id) => ({
      async ingest(input) {
        calls.push({ id, input });
        return options.ingest?.(id, input) ?? { status: "stored", inserted: input.messages.length, duplicates: 0 };
      },
      async mergeInto(into) {
        if (options.mergeFails) throw new Error("fold failed");
        const error = options.foldErrors?.shift();
        if (error) throw error;
        merges.push([id, into]);
      },
    }),
  };
  return { deps, calls, merges, redirects, forgotten, resolves };
}

describe("ingestMessages", () => {
  it("resolves the batch in one call and makes one Durable Object call per profile", async () => {
    const f = fakes({});
    const report = await ingestMessages(f.deps, "ws", items(msg("m1", "a"), msg("m2", "b"), msg("m3", "a")));
    expect(report).toEqual({
      rejected: [],
      failed: [],
      profileIds: ["prf_a", "prf_b"],
      dropped: [],
      erased: [],
      duplicates: 0,
      overloaded: false,
    });
    expect(f.resolves).toHaveLength(1);
    expect(f.calls.map((c) => [c.id, c.input.messages.map((m) => m.messageId)])).toEqual([
      ["prf_a", ["m1", "m3"]],
      ["prf_b", ["m2"]],
    ]);
    expect(f.calls[0].input).toMatchObject({ profileId: "prf_a", workspaceId: "ws" });
    expect(f.calls[0].input.identifiers).toEqual([{ type: "anonymous_id", value: "a", firstSeen: Date.parse(at) }]);
  });

  it("keeps at most 16 Durable Object calls of a batch in flight, and makes every one", async () => {
    let inFlight = 0;
    let most = 0;
    const f = fakes({});
    const profile = f.deps.profile;
    f.deps.profile = (id) => ({
      ...profile(id),
      async ingest(input) {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        return profile(id).ingest(input);
      },
    });
    const batch = items(...Array.from({ length: 40 }, (_, i) => msg(`m${i}`, `v${i}`)));
    const report = await ingestMessages(f.deps, "ws", batch);
    expect(report.failed).toEqual([]);
    expect(report.profileIds).toHaveLength(40);
    expect(f.calls).toHaveLength(40);
    expect(most).toBe(16);
  });

  it("asks the definitions version once per request and hands it to every profile", async () => {
    const f = fakes({});
    let asked = 0;
    f.deps.definitionsVersion = async () => ++asked + 6;
    const batch = items(...Array.from({ length: 30 }, (_, i) => msg(`m${i}`, `v${i}`)));
    await ingestMessages(f.deps, "ws", batch);
    expect(asked).toBe(1);
    expect(new Set(f.calls.map((c) => c.input.definitionsVersion))).toEqual(new Set([7]));
  });

  it("queues every profile's messages when the definitions version cannot be read", async () => {
    const f = fakes({});
    f.deps.definitionsVersion = async () => {
      throw new Error("D1 unavailable");
    };
    const report = await ingestMessages(f.deps, "ws", items(msg("m1", "a"), msg("m2", "b")));
    expect(f.calls).toEqual([]);
    expect(report.failed).toEqual([
      expect.objectContaining({
        kind: "deliver",
        profileId: "prf_a",
        messages: [expect.objectContaining({ messageId: "m1" })],
      }),
      expect.objectContaining({
        kind: "deliver",
        profileId: "prf_b",
        messages: [expect.objectContaining({ messageId: "m2" })],
      }),
    ]);
  });

  it("logs a request's failed deliveries as one line with the first error, and queues each", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const f = fakes({
      ingest: (id) => {
        if (id !== "prf_ok") throw new Error(`no memory for ${id}`);
        return { status: "stored", inserted: 1, duplicates: 0 };
      },
    });
    const report = await ingestMessages(f.deps, "ws", items(msg("m1", "a"), msg("m2", "ok"), msg("m3", "b")));
    expect(report.failed.map((j) => j.kind === "deliver" && j.profileId)).toEqual(["prf_a", "prf_b"]);
    expect(logged).toHaveBeenCalledTimes(1);
    expect(logged.mock.calls[0]).toEqual([
      "storing into 2 of 3 profiles failed; queueing (first: prf_a)",
      new Error("no memory for prf_a"),
    ]);
    logged.mockRestore();
  });

  it("marks the report overloaded when an object or the graph is out of room, and not for other failures", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const failing = (error: Error) =>
      fakes({
        ingest: (id) => {
          if (id === "prf_b") throw error;
          return { status: "stored", inserted: 1, duplicates: 0 };
        },
      });
    const batch = () => items(msg("m1", "a"), msg("m2", "b"));
    // The local runtime's SQLite heap is full; Cloudflare's own word for an object that cannot keep up.
    const nomem = new Error("out of memory: SQLITE_NOMEM");
    const overloaded = Object.assign(new Error("Durable Object is overloaded."), { overloaded: true });
    for (const error of [nomem, overloaded]) {
      const report = await ingestMessages(failing(error).deps, "ws", batch());
      expect(report.overloaded).toBe(true);
      expect(report.failed.map((j) => j.kind === "deliver" && j.profileId)).toEqual(["prf_b"]);
    }
    expect((await ingestMessages(failing(new Error("network lost")).deps, "ws", batch())).overloaded).toBe(false);

    const graph = fakes({});
    graph.deps.identity.resolve = async () => {
      throw new Error("D1_ERROR: out of memory: SQLITE_NOMEM");
    };
    expect(await ingestMessages(graph.deps, "ws", batch())).toMatchObject({
      overloaded: true,
      failed: [{ kind: "resolve" }],
    });
    // As drizzle reports it: its own error, D1's as the cause (import run J).
    graph.deps.loadRules = async () => {
      throw new Error('Failed query: select "identity_rules" from "workspaces"', {
        cause: new Error("D1_ERROR: out of memory: SQLITE_NOMEM"),
      });
    };
    expect((await ingestMessages(graph.deps, "ws", batch())).overloaded).toBe(true);
    logged.mockRestore();
  });

  it("makes a call the runtime failed transiently again before queueing it, and not other failures", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    /** Profile `prf_a`'s object fails its first `failures` calls with `error`, then stores. */
    const flaky = (error: Error, failures: number) => {
      let left = failures;
      return fakes({
        ingest: (_id, input) => {
          if (left-- > 0) throw error;
          return { status: "stored", inserted: input.messages.length, duplicates: 0 };
        },
      });
    };
    const reset = () =>
      Object.assign(new Error("Durable Object reset because its code was updated."), { durableObjectReset: true });
    const retryable = () => Object.assign(new Error("Network connection lost."), { retryable: true });
    const internal = () => new Error("internal error; reference = 955nr2cr25kfs9svb6b86u0d");

    // Reset, or the runtime's undescribed internal error, once or twice, then stored: nothing queued, nothing logged.
    for (const [error, failures] of [
      [reset(), 1],
      [internal(), 2],
    ] as const) {
      const f = flaky(error, failures);
      expect(await ingestMessages(f.deps, "ws", items(msg("m1", "a")))).toEqual({
        rejected: [],
        failed: [],
        profileIds: ["prf_a"],
        dropped: [],
        erased: [],
        duplicates: 0,
        overloaded: false,
      });
      expect(f.calls).toHaveLength(failures + 1);
    }
    expect(logged).not.toHaveBeenCalled();

    // Transient three times: three calls, then queued, and the log names the runtime's flag.
    const always = flaky(retryable(), 3);
    const report = await ingestMessages(always.deps, "ws", items(msg("m1", "a")));
    expect(always.calls).toHaveLength(3);
    expect(report.failed).toEqual([expect.objectContaining({ kind: "deliver", profileId: "prf_a" })]);
    expect(logged.mock.calls[0][0]).toBe("storing into profile prf_a failed; queueing [retryable]");

    // Thrown by the object's own code, an overload (the local one comes with a reset), or not the runtime's: once.
    const remote = Object.assign(new Error("no such table: events"), { remote: true });
    const overloaded = Object.assign(new Error("Durable Object is overloaded."), { overloaded: true, retryable: true });
    const nomem = Object.assign(new Error("out of memory: SQLITE_NOMEM"), { durableObjectReset: true });
    for (const error of [remote, overloaded, nomem, new Error("redirect cycle")]) {
      const f = flaky(error, 1);
      expect((await ingestMessages(f.deps, "ws", items(msg("m1", "a")))).failed).toHaveLength(1);
      expect(f.calls).toHaveLength(1);
    }
    logged.mockRestore();
  });

  it("rejects a message whose every identifier is blocked, naming the value and rule", async () => {
    const f = fakes({});
    const report = await ingestMessages(f.deps, "ws", items(msg("m1", "a"), msg("m2", "null")));
    expect(report.rejected).toEqual([
      {
        index: 1,
        messageId: "m2",
        error: expect.stringMatching(/batch\[1\]: no usable identifier \(anonymous_id "null": .*blocked/),
      },
    ]);
    expect(f.calls.flatMap((c) => c.input.messages.map((m) => m.messageId))).toEqual(["m1"]);
  });

  it("drops messages of suppressed (GDPR-erased) people without calling any profile", async () => {
    const suppressed = (input: ResolveInput): ResolveOutcome => ({
      kind: "suppressed",
      identifier: input.identifiers[0],
    });
    const f = fakes({ outcome: suppressed });
    expect(await ingestMessages(f.deps, "ws", items(msg("m1", "a")))).toEqual({
      rejected: [],
      failed: [],
      profileIds: [],
      dropped: [],
      erased: [0],
      duplicates: 0,
      overloaded: false,
    });
    expect(f.calls).toEqual([]);
  });

  it("follows a redirect to the survivor and tells the identity cache", async () => {
    const f = fakes({
      ingest: (id) =>
        id === "prf_a" ? { status: "redirect", to: "prf_s" } : { status: "stored", inserted: 1, duplicates: 0 },
    });
    expect(await ingestMessages(f.deps, "ws", items(msg("m1", "a")))).toEqual({
      rejected: [],
      failed: [],
      profileIds: ["prf_s"],
      dropped: [],
      erased: [],
      duplicates: 0,
      overloaded: false,
    });
    expect(f.calls.map((c) => [c.id, c.input.profileId])).toEqual([
      ["prf_a", "prf_a"],
      ["prf_s", "prf_s"],
    ]);
    expect(f.redirects).toEqual([["prf_a", "prf_s"]]);
  });

  it("drops messages for a deleted profile and forgets it in the cache", async () => {
    const f = fakes({ ingest: () => ({ status: "deleted" }) });
    expect(await ingestMessages(f.deps, "ws", items(msg("m1", "a")))).toEqual({
      rejected: [],
      failed: [],
      profileIds: [],
      dropped: [],
      erased: [],
      duplicates: 0,
      overloaded: false,
    });
    expect(f.forgotten).toEqual(["prf_a"]);
  });

  it("asks the graph again, once, for messages a merge undo's survivor refused as departed", async () => {
    // The first resolve answers from a stale cache (prf_s); the second reads the graph (prf_a).
    const f = fakes({
      ingest: (id, input) =>
        id === "prf_s" && !input.graphChecked
          ? { status: "departed", identifiers: [{ type: "anonymous_id", value: "a" }] }
          : { status: "stored", inserted: input.messages.length, duplicates: 0 },
    });
    f.deps.identity.resolve = async (_ws, _rules, inputs) => {
      f.resolves.push(inputs);
      const fromCache = f.resolves.length === 1;
      return inputs.map((input) => ({
        kind: "profile" as const,
        profileId: fromCache ? "prf_s" : "prf_a",
        created: false,
        attached: input.identifiers as Identifier[],
        dropped: [],
        merged: [],
        ...(fromCache ? { cached: true as const } : {}),
      }));
    };
    const batch = items(msg("m0", "a"), msg("m1", "a"));
    const report = await ingestMessages(f.deps, "ws", batch);
    expect(report).toEqual({
      rejected: [],
      failed: [],
      profileIds: ["prf_a"],
      dropped: [],
      erased: [],
      duplicates: 0,
      overloaded: false,
    });
    expect(f.forgotten).toEqual(["anonymous_id:a"]);
    expect(f.resolves.map((r) => r.map((i) => i.messageId))).toEqual([
      ["m0", "m1"],
      ["m0", "m1"],
    ]);
    expect(f.calls.map((c) => [c.id, c.input.graphChecked])).toEqual([
      ["prf_s", false],
      ["prf_a", true],
    ]);
  });

  it("queues the messages as a resolve job when the survivor refuses them as departed a second time", async () => {
    const f = fakes({ ingest: () => ({ status: "departed", identifiers: [{ type: "anonymous_id", value: "a" }] }) });
    const report = await ingestMessages(f.deps, "ws", items(msg("m1", "a")));
    expect(report.profileIds).toEqual([]);
    expect(report.failed).toEqual([
      { kind: "resolve", workspaceId: "ws", messages: [expect.objectContaining({ messageId: "m1" })] },
    ]);
    expect(f.calls).toHaveLength(2);
  });

  it("turns a queued delivery the survivor refuses as departed into a resolve job", async () => {
    const f = fakes({ ingest: () => ({ status: "departed", identifiers: [{ type: "anonymous_id", value: "a" }] }) });
    const m1 = msg("m1", "a");
    const left = await runJob(f.deps, {
      kind: "deliver",
      workspaceId: "ws",
      profileId: "prf_s",
      messages: [m1],
      identifiers: [],
    });
    expect(left).toEqual([{ kind: "resolve", workspaceId: "ws", messages: [m1] }]);
    expect(f.forgotten).toEqual(["anonymous_id:a"]);
  });

  it("queues a delivery whose redirects never end instead of looping", async () => {
    let n = 0;
    const f = fakes({ ingest: () => ({ status: "redirect", to: `prf_hop${++n}` }) });
    const report = await ingestMessages(f.deps, "ws", items(msg("m1", "a")));
    expect(report.failed).toEqual([
      expect.objectContaining({ kind: "deliver", messages: [expect.objectContaining({ messageId: "m1" })] }),
    ]);
  });

  it("folds each merged profile once and queues a fold that fails", async () => {
    const merged = (input: ResolveInput): ResolveOutcome => ({
      kind: "profile",
      profileId: "prf_old",
      created: false,
      attached: input.identifiers as Identifier[],
      dropped: [],
      merged: [{ from: "prf_new", into: "prf_old" }],
    });
    const ok = fakes({ outcome: merged });
    await ingestMessages(ok.deps, "ws", items(msg("m1", "a"), msg("m2", "b")));
    expect(ok.merges).toEqual([["prf_new", "prf_old"]]);
    expect(ok.calls).toHaveLength(1);

    const failing = fakes({ outcome: merged, mergeFails: true });
    const report = await ingestMessages(failing.deps, "ws", items(msg("m1", "a")));
    expect(report.failed).toEqual([{ kind: "merge", workspaceId: "ws", from: "prf_new", into: "prf_old" }]);

    // A fold the runtime failed transiently is made again, like a delivery.
    const reset = fakes({
      outcome: merged,
      foldErrors: [Object.assign(new Error("Durable Object reset"), { durableObjectReset: true })],
    });
    expect((await ingestMessages(reset.deps, "ws", items(msg("m1", "a")))).failed).toEqual([]);
    expect(reset.merges).toEqual([["prf_new", "prf_old"]]);
  });

  it("returns the whole batch as one resolve job when the rules cannot be read", async () => {
    const f = fakes({});
    f.deps.loadRules = async () => {
      throw new Error("D1 down");
    };
    const report = await ingestMessages(f.deps, "ws", items(msg("m1", "a"), msg("m2", "b")));
    expect(report.failed).toEqual([
      {
        kind: "resolve",
        workspaceId: "ws",
        messages: [expect.objectContaining({ messageId: "m1" }), expect.objectContaining({ messageId: "m2" })],
      },
    ]);
  });
});
