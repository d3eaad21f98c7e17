import type { IngestEnvelope } from "./envelope";

/** Hono's environment inside the collector: what authentication found, for the middlewares after it. */
export type CollectorEnv = {
  Bindings: Env;
  Variables: {
    workspaceId: string;
    writeKey: string;
    envelope: IngestEnvelope;
    /** Set by admission when it answered `429` at the deadline (see `abandonIfAnswered`). */
    answeredAtDeadline?: boolean;
  };
};
