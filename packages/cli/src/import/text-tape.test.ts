import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { TextTape } from "./text-tape";

const text = async (chunks: AsyncIterable<Buffer>) => {
  let out = "";
  for await (const chunk of chunks) out += chunk.toString();
  return out;
};

describe("TextTape", () => {
  it("reads the stream again from a place not released, then on to its end", async () => {
    const tape = new TextTape(Readable.from([Buffer.from("abc"), Buffer.from("def"), Buffer.from("ghi")]));
    const first = tape.from(0);
    expect((await first.next()).value?.toString()).toBe("abc");
    expect((await first.next()).value?.toString()).toBe("def");
    await first.return(undefined);
    tape.release(4);
    expect(tape.byteAt(2)).toBeUndefined();
    expect(tape.byteAt(4)).toBe("e".charCodeAt(0));
    expect(await text(tape.from(4))).toBe("efghi");
    expect(tape.length).toBe(9);
    await expect(tape.from(1).next()).rejects.toThrow(/released/);
  });

  it("keeps the chunk a reading given up was waiting for", async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* slow() {
      yield Buffer.from("ab");
      await gate;
      yield Buffer.from("cd");
    }
    const tape = new TextTape(slow());
    const first = tape.from(0);
    await first.next();
    const waiting = first.next();
    const second = text(tape.from(1));
    release();
    await waiting;
    await first.return(undefined);
    expect(await second).toBe("bcd");
  });
});
