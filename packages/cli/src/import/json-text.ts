/**
 * Splitting JSON text into one piece per message without holding the file: lines of NDJSON, or the elements of a
 * top-level array (`[{…},{…}]`, what `.json` exports usually are). Each piece is parsed by the caller, so one bad
 * message is one rejected row, not a failed import.
 */

/** One message's text, the line it starts on (1-based), and the UTF-8 bytes of the text up to its end. */
export interface JsonPiece {
  text: string;
  line: number;
  end: number;
}

/** Non-blank lines, trimmed (a `\r` of CRLF files included). */
export async function* jsonLines(chunks: AsyncIterable<string> | Iterable<string>): AsyncGenerator<JsonPiece> {
  let rest = "";
  let line = 0;
  let bytes = 0;
  for await (const chunk of chunks) {
    rest += chunk;
    let start = 0;
    for (let end = rest.indexOf("\n"); end >= 0; end = rest.indexOf("\n", start)) {
      line++;
      const raw = rest.slice(start, end);
      bytes += Buffer.byteLength(raw) + 1;
      const text = raw.trim();
      if (text !== "") yield { text, line, end: bytes };
      start = end + 1;
    }
    rest = rest.slice(start);
  }
  const text = rest.trim();
  if (text !== "") yield { text, line: line + 1, end: bytes + Buffer.byteLength(rest) };
}

const isSpace = (c: string) => c === " " || c === "\n" || c === "\r" || c === "\t";

/**
 * The elements of one top-level JSON array, as text. Only strings and brackets are tracked (the element's own
 * syntax is `JSON.parse`'s job later); throws when the text is not an array or the array is never closed.
 *
 * @example for await (const piece of jsonArrayElements(['[{"a":1},', '{"b":"]"}]'])) console.log(piece.text)
 * // {"a":1}  then  {"b":"]"}
 */
export async function* jsonArrayElements(chunks: AsyncIterable<string> | Iterable<string>): AsyncGenerator<JsonPiece> {
  let opened = false;
  let closed = false;
  let inElement = false;
  let inString = false;
  let escaped = false;
  let depth = 0;
  let carry = "";
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
          yield { text: (carry + chunk.slice(from, i)).trim(), line: elementLine, end: bytes };
          inElement = false;
          closed = depth < 0;
        }
      }
    }
    if (inElement) carry += chunk.slice(from);
    bytes += Buffer.byteLength(chunk.slice(counted));
  }
  if (opened && !closed) throw new Error("the JSON array is not closed (the file ends inside it)");
}
