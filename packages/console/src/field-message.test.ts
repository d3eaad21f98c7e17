import { describe, expect, it } from "vitest";
import { builderFieldLabel } from "./definitions/definition-field";
import { destinationFieldLabel } from "./destinations/vendor-fields";
import { forPeople } from "./field-message";

const destination = (message: string) => forPeople(message, (path) => destinationFieldLabel("webhook", path));
const audience = (message: string) => forPeople(message, (path) => builderFieldLabel("audiences", path));
const computed = (message: string) => forPeople(message, (path) => builderFieldLabel("computed-traits", path));

describe("forPeople", () => {
  it("names a destination's config field by its label", () => {
    expect(destination("config.secret: must be a string of at least 16 characters")).toBe(
      "Signing secret: must be a string of at least 16 characters",
    );
    expect(destination("traits[2]: is repeated")).toBe("Traits sent: is repeated");
    expect(forPeople("config.list_id: is required", (p) => destinationFieldLabel("mailchimp", p))).toBe(
      "Audience (list) id: is required",
    );
  });

  it("names a condition's field with the condition's place, as the builder's controls say it", () => {
    expect(audience('definition.all[1].not.within: "60x" is not a duration')).toBe(
      'Within (condition 2): "60x" is not a duration',
    );
    expect(audience('definition.all[0].any[1].audience: unknown audience "gold"')).toBe(
      'Audience key (condition 2 of group 1): unknown audience "gold"',
    );
    expect(audience('definition.all[0].where[0].value: is required for "gt"')).toBe(
      'Value (property filter 1 of condition 1): is required for "gt"',
    );
    expect(audience("definition.count.value: must be a whole number")).toBe("Times: must be a whole number");
    expect(audience("definition.any[49]: exceeds the cap")).toBe("Condition 50: exceeds the cap");
    expect(audience("key: must be a key")).toBe("Key: must be a key");
    expect(computed('definition.op: "median" is not a computed-trait op')).toBe(
      'Operation: "median" is not a computed-trait op',
    );
  });

  it("keeps the API's text, path and all, for a path the form has no control for", () => {
    for (const message of [
      'definition.count.per: is not a field (a count has "op" and "value")',
      "definition.windw: is not a field",
      "config.url_typo: is not a field",
      "constructor: is odd",
      "No destination dst_1 in this workspace",
    ]) {
      expect(
        forPeople(message, (p) => builderFieldLabel("computed-traits", p) ?? destinationFieldLabel("webhook", p)),
      ).toBe(message);
    }
  });
});
