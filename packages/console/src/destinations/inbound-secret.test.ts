import { describe, expect, it } from "vitest";
import { maskSecret, takesEngagementWebhook } from "./inbound-secret";

describe("maskSecret", () => {
  it("shows only the last 4 characters of the inbound secret", () => {
    const url = "https://t.example.com/v1/webhooks/dst_1?secret=whsec_0123456789abcdef";
    expect(maskSecret(url)).toBe("https://t.example.com/v1/webhooks/dst_1?secret=…cdef");
  });
});

describe("takesEngagementWebhook", () => {
  it("is true for the types with an inbound source, not Marketo (polled) nor an unknown type", () => {
    for (const type of ["hubspot", "klaviyo", "mailchimp", "webhook"]) expect(takesEngagementWebhook(type)).toBe(true);
    for (const type of ["marketo", "braze"]) expect(takesEngagementWebhook(type)).toBe(false);
  });
});
