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
  const fetch = vi.fn(async () => {
    const next = responses.shift();
    if (!next) throw new Error("no more answers");
    return next();
  });
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

afterEach(() => vi.unstubAllGlobals());

const options = { key: "sk_test" };

describe("api", () => {
  it("sends a read the local proxy dropped once more, and returns its answer", async () => {
    const fetch = answers(proxyDropped, () => Response.json({ id: "prf_1" }));
    expect(await api("/v1/profiles/prf_1", options)).toEqual({ id: "prf_1" });
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("sends a read-only POST (a preview) once more, but not a POST that changes something", async () => {
    const preview = answers(proxyDropped, () => Response.json({ size: 3 }));
    expect(await api("/v1/audiences/preview", { ...options, method: "POST", body: {}, readOnly: true })).toEqual({
      size: 3,
    });
    expect(preview).toHaveBeenCalledTimes(2);

    const create = answers(proxyDropped, () => Response.json({ key: "gold" }));
    await expect(api("/v1/audiences", { ...options, method: "POST", body: {} })).rejects.toThrow(
      "The API answered 503 Service Unavailable",
    );
    expect(create).toHaveBeenCalledTimes(1);
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
});
