import type { Storage } from "./storage";
import { memoryStorage } from "./storage";
import type { Transport, TransportResult } from "./transport";
/** A Transport that records bodies and answers from a script (then 200). */
export declare function scriptedTransport(answers?: TransportResult[]): {
  transport: Transport;
  sent: {
    url: string;
    body: {
      batch: {
        messageId: string;
        [k: string]: unknown;
      }[];
      writeKey: string;
    };
  }[];
  ids: () => string[];
};
/** A Storage whose writes fail, like IndexedDB over quota. */
export declare function failingStorage(): Storage;
export { memoryStorage };
