import { describe, expect, it } from "vitest";
import { swallowedLines, unclosedQuoteRow } from "./unclosed-quote";

describe("unclosedQuoteRow", () => {
  it("splits after the line the quote opened on, past blank lines before the row", () => {
    expect(unclosedQuoteRow('\n\r\n7,"Jane,42\n8,Bob,3\n', 1, ",")).toEqual({
      openedOn: 0,
      text: '7,"Jane,42\n',
      rest: "8,Bob,3\n",
    });
  });

  it("finds the quote below a closed quoted cell of a thousand lines in the same row", () => {
    const cell = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join("\n");
    const raw = `7,"${cell}",x,"open\n8,Bob,3,y\n9,Ann,4,z\n`;
    const row = unclosedQuoteRow(raw, 3, ",");
    expect(row.openedOn).toBe(999);
    expect(row.text).toBe(`7,"${cell}",x,"open\n`);
    expect(row.rest).toBe("8,Bob,3,y\n9,Ann,4,z\n");
  });
});

describe("swallowedLines", () => {
  it("finds a quote that ran on to the quote opening a cell rows below, CRLF inside it included", () => {
    expect(swallowedLines('7;"Jane;42\r\n8;Bob;3\r\n9;"Ann";5\r', ";")).toEqual({
      openedOn: 0,
      text: '7;"Jane;42\r\n',
      rest: '8;Bob;3\r\n9;"Ann";5\r',
    });
  });

  it("leaves quoted cells with line breaks alone, and a wrongly escaped quote on the line its cell opens", () => {
    expect(swallowedLines('7,"a\nb ""c""\nd",x\n', ",")).toBeNull();
    expect(swallowedLines('7,"He said "hi",x\n', ",")).toBeNull();
    expect(swallowedLines('7,"x",y\n', ",")).toBeNull();
  });
});
