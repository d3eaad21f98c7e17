import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, api } from "./api";

/** What the local proxy answers to a request it could not hand to the Worker: no Tessera envelope. */
const proxyDropped = () =>
  new Response("Your worker restarted mid-request. Please try sending the request again.", {
    status: 503,
    statusText: "Service Unavailable",
  });
const tesseraUnavailable = () =>
  Response.json(
    { error: { code: "internal_error", message: "Events could not be stored durably; retry the request" } },
    { status: 503 },
  );

/** Stubs fetch with the given answers, one per call; returns the calls made. */
function answers(...responses: Array<() => Response>) {
  const fetch = vi.fn(async (_path: string, _init: RequestInit) => {
    const next = responses.shift();
    if (!next) throw new Error("no more answers");
    return next();
  });
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

afterEach(() => vi.unstubAllGlobals());

const headersOf = (call: [string, RequestInit]) => new Headers(call[1].headers);

const options = { key: "sk_test" };

/** The API's refusal while another merge undo or erase runs in the workspace. */
const anotherRepairRuns = () =>
  Response.json(
    {
      error: {
        code: "conflict",
        message: "Another merge undo or erase is running in this workspace; try again in a moment.",
      },
    },
    { status: 409, headers: { "retry-after": "1" } },
  );

describe("api", () => {
  it("sends a read the local proxy dropped once more, and returns its answer", async () => {
    const fetch = answers(proxyDropped, () => Response.json({ id: "prf_1" }));
    expect(await api("/v1/profiles/prf_1", options)).toEqual({ id: "prf_1" });
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("sends a call that changes something once more with the same Idempotency-Key, a preview without one", async () => {
    const create = answers(proxyDropped, () => Response.json({ key: "gold" }, { status: 201 }));
    expect(await api("/v1/audiences", { ...options, method: "POST", body: {} })).toEqual({ key: "gold" });
    expect(create).toHaveBeenCalledTimes(2);
    const keys = create.mock.calls.map((c) => headersOf(c).get("idempotency-key"));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    // The next call is another call: another key.
    const next = answers(() => Response.json({}));
    await api("/v1/audiences", { ...options, method: "POST", body: {} });
    expect(headersOf(next.mock.calls[0]).get("idempotency-key")).not.toBe(keys[0]);

    const preview = answers(proxyDropped, () => Response.json({ size: 3 }));
    expect(await api("/v1/audiences/preview", { ...options, method: "POST", body: {}, readOnly: true })).toEqual({
      size: 3,
    });
    expect(preview).toHaveBeenCalledTimes(2);
    expect(preview.mock.calls.map((c) => headersOf(c).has("idempotency-key"))).toEqual([false, false]);
    const read = answers(() => Response.json({}));
    await api("/v1/profiles/prf_1", options);
    expect(headersOf(read.mock.calls[0]).has("idempotency-key")).toBe(false);
  });

  it("shows the API's own 503 at once, and a proxy's second 503 after one resend", async () => {
    const own = answers(tesseraUnavailable, () => Response.json({}));
    const err = await api("/v1/profiles/prf_1", options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toBe("Events could not be stored durably; retry the request");
    expect(own).toHaveBeenCalledTimes(1);

    const twice = answers(proxyDropped, proxyDropped, () => Response.json({}));
    await expect(api("/v1/profiles/prf_1", options)).rejects.toThrow("The API answered 503 Service Unavailable");
    expect(twice).toHaveBeenCalledTimes(2);
  });

  it("waits its turn when the API answers 409 with Retry-After, and shows a 409 without one at once", async () => {
    vi.useFakeTimers();
    try {
      const undo = answers(anotherRepairRuns, anotherRepairRuns, () => Response.json({ restored_profile: "prf_2" }));
      const undone = api("/v1/merges/mrg_1/undo", { ...options, method: "POST" });
      await vi.advanceTimersByTimeAsync(999);
      expect(undo).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(1_001);
      expect(await undone).toEqual({ restored_profile: "prf_2" });
      expect(undo).toHaveBeenCalledTimes(3);
      const keys = new Set(undo.mock.calls.map((c) => headersOf(c).get("idempotency-key")));
      expect(keys.size).toBe(1);

      const always = answers(...Array.from({ length: 6 }, () => anotherRepairRuns));
      const refused = api("/v1/merges/mrg_1/undo", { ...options, method: "POST" }).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(((await refused) as ApiError).status).toBe(409);
      expect(always).toHaveBeenCalledTimes(6);

      const undoneAlready = () =>
        Response.json({ error: { code: "conflict", message: "Merge mrg_1 was already undone." } }, { status: 409 });
      const once = answers(undoneAlready);
      await expect(api("/v1/merges/mrg_1/undo", { ...options, method: "POST" })).rejects.toThrow("already undone");
      expect(once).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
