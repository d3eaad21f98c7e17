/** Sizes as storage, queues and vendors count them: UTF-8 bytes, not the UTF-16 units of `string.length`. */
const encoder = new TextEncoder();

/** The UTF-8 length of `text` in bytes. */
export const utf8Bytes = (text: string): number => encoder.encode(text).byteLength;

/** The UTF-8 length of `value`'s JSON in bytes. */
export const jsonBytes = (value: unknown): number => utf8Bytes(JSON.stringify(value));
