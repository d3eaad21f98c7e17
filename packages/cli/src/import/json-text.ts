/**
 * Splitting JSON text into one piece per message without holding the file: lines of NDJSON, or the elements of a
 * top-level array (`[{…},{…}]`, what `.json` exports usually are). Each piece is parsed by the caller, so one bad
 * message is one rejected row, not a failed import.
 */

import { MAX_MESSAGE_BYTES } from "@tessera/protocol";

/**
 * One message's text, the line it starts on (1-based), and the UTF-8 bytes of the text up to its end. With `problem`,
 * a piece that cannot be a message and was not kept whole: `text` is only its beginning, to show which it was.
 */
export interface JsonPiece {
  text: string;
  line: number;
  end: number;
  problem?: string;
}

/**
 * The longest line (or array element) kept whole, in characters: far above any message (32 KB), so a longer one can
 * only be rejected, and holding it would cost memory for nothing (a file without line breaks is one line of its whole
 * size; an array can hold one element of 500 MB).
 */
export const MAX_LINE_CHARS = 1024 * 1024;

/** How much of a line or element past {@link MAX_LINE_CHARS} is kept for the rejects file. */
const SHOWN_CHARS = 200;

/** Why a line or element past {@link MAX_LINE_CHARS}, of `bytes` in all, is rejected unread. */
function tooLong(what: "line" | "element", bytes: number): string {
  return (
    `${what} longer than any message can be (${bytes.toLocaleString("en-US")} bytes; a message is at ` +
    `most ${MAX_MESSAGE_BYTES.toLocaleString("en-US")}): not read`
  );
}

/**
 * Non-blank lines, trimmed (a `\r` of CRLF files included). A line longer than `maxLineChars` comes out as a piece
 * with a `problem`, its text cut to its beginning.
 *
 * @example for await (const piece of jsonLines(['{"a":1}\n\n{"b"', ":2}"])) console.log(piece.line, piece.text)
 * // 1 {"a":1}  then  3 {"b":2}
 */
export async function* jsonLines(
  chunks: AsyncIterable<string> | Iterable<string>,
  maxLineChars = MAX_LINE_CHARS,
): AsyncGenerator<JsonPiece> {
  // The line being read, in the pieces the chunks brought, joined once when it ends: each chunk is searched for a
  // line break once, so a long line costs its length (one string appended to and searched again from its start each
  // chunk cost the square of it).
  let pieces: string[] = [];
  let chars = 0;
  let lineBytes = 0;
  let line = 0;
  let bytes = 0;
  const add = (piece: string) => {
    lineBytes += Buffer.byteLength(piece);
    // Past the bound only the line's size is counted, to say it in the reason.
    if (chars > maxLineChars) return;
    pieces.push(piece);
    chars += piece.length;
    if (chars > maxLineChars) pieces = [pieces.join("").slice(0, SHOWN_CHARS)];
  };
  /** The line read so far as a piece (none when blank), ended by a line break or by the end of the text. */
  const finish = (breakBytes: number): JsonPiece | null => {
    line++;
    bytes += lineBytes + breakBytes;
    const text = pieces.join("").trim();
    const piece: JsonPiece | null =
      chars > maxLineChars
        ? { text: `${text}…`, line, end: bytes, problem: tooLong("line", lineBytes) }
        : text === ""
          ? null
          : { text, line, end: bytes };
    pieces = [];
    chars = 0;
    lineBytes = 0;
    return piece;
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (let end = chunk.indexOf("\n"); end >= 0; end = chunk.indexOf("\n", start)) {
      add(chunk.slice(start, end));
      const piece = finish(1);
      if (piece) yield piece;
      start = end + 1;
    }
    if (start < chunk.length) add(chunk.slice(start));
  }
  const last = finish(0);
  if (last) yield last;
}

const isSpace = (c: string) => c === " " || c === "\n" || c === "\r" || c === "\t";

/**
 * The elements of one top-level JSON array, as text. Only strings and brackets are tracked (the element's own
 * syntax is `JSON.parse`'s job later); throws when the text is not an array or the array is never closed. An element
 * longer than `maxElementChars` comes out as a piece with a `problem`, its text cut to its beginning.
 *
 * @example for await (const piece of jsonArrayElements(['[{"a":1},', '{"b":"]"}]'])) console.log(piece.text)
 * // {"a":1}  then  {"b":"]"}
 */
export async function* jsonArrayElements(
  chunks: AsyncIterable<string> | Iterable<string>,
  maxElementChars = MAX_LINE_CHARS,
): AsyncGenerator<JsonPiece> {
  let opened = false;
  let closed = false;
  let inElement = false;
  let inString = false;
  let escaped = false;
  let depth = 0;
  let carry = "";
  // The element is past `maxElementChars`: `carry` holds its beginning only, and `elementBytes` counts the rest.
  let over = false;
  let elementBytes = 0;
  let line = 1;
  let elementLine = 1;
  // UTF-8 bytes before `counted` in this chunk (counted as elements end, not character by character).
  let bytes = 0;
  for await (const chunk of chunks) {
    let from = 0;
    let counted = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === "\n") line++;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === "\\") escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (!opened || closed) {
        if (isSpace(c)) continue;
        if (closed) throw new Error(`line ${line}: unexpected text after the closing ] of the array`);
        if (c !== "[") throw new Error(`line ${line}: a .json file must be an array of messages or one per line`);
        opened = true;
        continue;
      }
      if (!inElement) {
        if (isSpace(c) || c === ",") continue;
        if (c === "]") {
          closed = true;
          continue;
        }
        inElement = true;
        depth = 0;
        carry = "";
        over = false;
        elementBytes = 0;
        from = i;
        elementLine = line;
      }
      if (c === '"') inString = true;
      else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]" || c === ",") {
        if (c !== ",") depth--;
        if (depth < 0 || (c === "," && depth === 0)) {
          // The top-level separator or the array's own `]` ends the element.
          bytes += Buffer.byteLength(chunk.slice(counted, i + 1));
          counted = i + 1;
          if (over) {
            elementBytes += Buffer.byteLength(chunk.slice(from, i));
            const problem = tooLong("element", elementBytes);
            yield { text: `${carry.trim()}…`, line: elementLine, end: bytes, problem };
          } else yield { text: (carry + chunk.slice(from, i)).trim(), line: elementLine, end: bytes };
          inElement = false;
          closed = depth < 0;
        }
      }
    }
    if (inElement) {
      const rest = chunk.slice(from);
      elementBytes += Buffer.byteLength(rest);
      if (!over) carry += rest;
      if (!over && carry.length > maxElementChars) {
        over = true;
        carry = carry.slice(0, SHOWN_CHARS);
      }
    }
    bytes += Buffer.byteLength(chunk.slice(counted));
  }
  if (opened && !closed) throw new Error("the JSON array is not closed (the file ends inside it)");
}
