import type { Storage } from "../src/storage";
import { memoryStorage } from "../src/storage";
import type { Transport, TransportResult } from "../src/transport";

/** A Transport that records bodies and answers from a script (then 200). */
export function scriptedTransport(answers: TransportResult[] = []) {
  const sent: { url: string; body: { batch: { messageId: string; [k: string]: unknown }[]; writeKey: string } }[] = [];
  const transport: Transport = {
    send: async (url, body) => {
      sent.push({ url, body: JSON.parse(body) });
      return answers.shift() ?? { status: 200 };
    },
  };
  return { transport, sent, ids: () => sent.flatMap((s) => s.body.batch.map((m) => m.messageId)) };
}

/** A Storage whose writes fail, like IndexedDB over quota. */
export function failingStorage(): Storage {
  const fail = async () => {
    throw new Error("QuotaExceededError");
  };
  return { entries: fail, setMany: fail, delMany: fail };
}

export { memoryStorage };
