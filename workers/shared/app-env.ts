/** Hono's environment for every sub-app: the Worker bindings, and the workspace an authenticated request acts for. */
export type AppEnv = {
  Bindings: Env;
  Variables: { workspaceId: string };
};
