import { describe, expect, it } from "vitest";
import { definitionKey, previewLine } from "./preview-line";

const within30 = definitionKey({ event: "Order Completed", within: "30d" });
const within45 = definitionKey({ event: "Order Completed", within: "45d" });

describe("previewLine", () => {
  it("shows the count of the definition on screen", () => {
    expect(previewLine("audiences", within30, { for: within30, preview: { size: 3, sample: [] } })).toBe(
      "Preview: 3 profiles would be in this audience now",
    );
  });

  it("says counting, not the old count, once the definition changed and until its own count arrives", () => {
    const old30 = { for: within30, preview: { size: 3, sample: [] } };
    expect(previewLine("audiences", within45, old30)).toBe("Preview: counting…");
    expect(previewLine("audiences", within45, { for: within30 })).toBe("Preview: counting…");
    expect(previewLine("audiences", within45, undefined)).toBe("Preview: counting…");
  });

  it("asks for a fix only when the definition on screen was refused", () => {
    expect(previewLine("computed-traits", within45, { for: within45 })).toBe("Preview: fix the definition first");
  });
});
