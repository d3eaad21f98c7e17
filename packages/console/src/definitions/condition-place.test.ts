import { describe, expect, it } from "vitest";
import { conditionName, filterName, groupName, placeNumber } from "./condition-place";

describe("condition places", () => {
  it("names a condition by its position in its group, and the group by its own position", () => {
    expect(conditionName([2])).toBe("condition 2");
    expect(conditionName([1, 2])).toBe("condition 2 of group 1");
    expect(conditionName([3, 1, 2])).toBe("condition 2 of group 3.1");
    expect(groupName([])).toBe("the top-level group");
    expect(groupName([3, 1])).toBe("group 3.1");
    expect(placeNumber([3, 1])).toBe("3.1");
  });

  it("names a property filter by its position and the condition it filters", () => {
    expect(filterName([], 0)).toBe("property filter 1");
    expect(filterName([1, 2], 1)).toBe("property filter 2 of condition 2 of group 1");
  });
});
