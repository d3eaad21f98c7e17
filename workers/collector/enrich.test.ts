import type { Message } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { enrichMessage, requestFacts } from "./enrich";

/** What Cloudflare's edge puts in `request.cf` for a client in Berlin (strings, as the edge sends them). */
const BERLIN = {
  colo: "FRA",
  country: "DE",
  region: "Berlin",
  city: "Berlin",
  timezone: "Europe/Berlin",
  postalCode: "10115",
  latitude: "52.52000",
  longitude: "13.40500",
};
/** miniflare's placeholder `cf` (its `fallbackCf`): what `wrangler dev` hands every request without network. */
const MINIFLARE_PLACEHOLDER = {
  asOrganization: "",
  asn: 395747,
  colo: "DFW",
  city: "Austin",
  region: "Texas",
  regionCode: "TX",
  postalCode: "78701",
  country: "US",
  timezone: "America/Chicago",
  latitude: "30.27130",
  longitude: "-97.74260",
};

const request = (cf?: Record<string, unknown>) =>
  new Request("https://collect.test/v1/track", {
    method: "POST",
    headers: { "cf-connecting-ip": "203.0.113.7", "user-agent": "Mozilla/5.0 Test" },
    ...(cf ? { cf } : {}),
  } as RequestInit);

describe("requestFacts", () => {
  it("takes the client's geo from request.cf in production", () => {
    expect(requestFacts(request(BERLIN), "production")).toEqual({
      ip: "203.0.113.7",
      userAgent: "Mozilla/5.0 Test",
      location: {
        country: "DE",
        region: "Berlin",
        city: "Berlin",
        timezone: "Europe/Berlin",
        postalCode: "10115",
        latitude: 52.52,
        longitude: 13.405,
      },
    });
  });

  it("adds no geo outside production, where request.cf is miniflare's invention (issue 10, #10)", () => {
    for (const environment of ["development", "test"]) {
      for (const cf of [MINIFLARE_PLACEHOLDER, BERLIN]) {
        expect(requestFacts(request(cf), environment), environment).toEqual({
          ip: "203.0.113.7",
          userAgent: "Mozilla/5.0 Test",
        });
      }
    }
  });

  it("adds no geo when the edge sent none", () => {
    expect(requestFacts(request(), "production").location).toBeUndefined();
    expect(requestFacts(request({ colo: "FRA", asn: 3320 }), "production").location).toBeUndefined();
  });

  it("reads the deployment's ENVIRONMENT when not told (the test project's is not production)", () => {
    expect(requestFacts(request(BERLIN)).location).toBeUndefined();
  });
});

describe("enrichMessage", () => {
  const message = (context: Record<string, unknown> = {}) =>
    ({ type: "track", event: "E", anonymousId: "a", context }) as unknown as Message;
  const receivedAt = Date.parse("2025-01-01T00:00:00.000Z");

  it("stores the request's geo as context.location, the message's own fields winning", () => {
    const facts = requestFacts(request(BERLIN), "production");
    const out = enrichMessage(message({ location: { city: "Potsdam" } }), {}, facts, receivedAt);
    expect(out.context).toMatchObject({
      ip: "203.0.113.7",
      location: { country: "DE", city: "Potsdam", latitude: 52.52 },
    });
  });

  it("leaves context.location out when the request has no geo", () => {
    const facts = requestFacts(request(MINIFLARE_PLACEHOLDER), "development");
    expect(enrichMessage(message(), {}, facts, receivedAt).context).not.toHaveProperty("location");
  });

  it("keeps a message's own library, app, os and device whole, never mixed with the batch's", () => {
    const facts = requestFacts(request(MINIFLARE_PLACEHOLDER), "development");
    const batch = {
      context: {
        library: { name: "analytics-python", version: "2.3.0" },
        app: { name: "Till", version: "9.1", build: "77" },
        os: { name: "Linux", version: "6.1" },
        device: { id: "till-4", model: "T400" },
        campaign: { source: "news" },
      },
    };
    const own = {
      library: { name: "pos-bridge" },
      app: { name: "Kiosk" },
      os: { name: "Android" },
      device: { id: "k-1" },
    };
    const out = enrichMessage(message({ ...own, campaign: { medium: "email" } }), batch, facts, receivedAt);
    expect(out.context).toMatchObject(own);
    expect(out.context.library).toEqual({ name: "pos-bridge" });
    expect(out.context.app).toEqual({ name: "Kiosk" });
    expect(out.context.os).toEqual({ name: "Android" });
    expect(out.context.device).toEqual({ id: "k-1" });
    // Other entries still merge key by key, the message winning.
    expect(out.context.campaign).toEqual({ source: "news", medium: "email" });
    // A message without its own takes the batch's.
    expect(enrichMessage(message(), batch, facts, receivedAt).context.library).toEqual(batch.context.library);
  });
});
