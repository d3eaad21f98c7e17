/** Hono's environment for every sub-app: the Worker bindings, and the workspace an authenticated request acts for. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    workspaceId: string;
    /** What a resend of this call with the same `Idempotency-Key` is told, when its answer cannot be kept. */
    idempotentResend?: string;
  };
};
