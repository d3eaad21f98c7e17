// The Worker's tsconfig has no Node types; workerd provides node:zlib under `nodejs_compat`.
// Just the two functions the collector uses (if @types/node is added to workers/, delete this file).
declare module "node:zlib" {
  interface InflateOptions {
    /** The inflate fails with a RangeError instead of producing more than this many bytes. */
    maxOutputLength?: number;
  }
  export function gunzipSync(data: Uint8Array, options?: InflateOptions): Uint8Array;
  export function inflateSync(data: Uint8Array, options?: InflateOptions): Uint8Array;
}
