import type { Message } from "@tessera/protocol";

/** When a plugin runs: `before` may drop or rewrite a call, `enrichment` adds data; `after` sees the final message. */
export type PluginStage = "before" | "enrichment" | "after";

/**
 * A plugin (Segment's middleware): receives each message before it is queued and returns it, a new one,
 * or `null` to drop it. Synchronous so a call is queued (and persisted) before it returns.
 *
 * @example tessera.use({ stage: "before", run: (m) => (m.type === "track" && m.event === "Debug" ? null : m) })
 */
export interface Plugin {
  stage?: PluginStage;
  run(message: Message): Message | null | undefined;
}

const ORDER: PluginStage[] = ["before", "enrichment", "after"];

/** Runs plugins by stage (registration order within a stage); a throwing plugin is skipped, not fatal. */
export function runPlugins(plugins: Plugin[], message: Message): Message | null {
  let m: Message | null | undefined = message;
  for (const stage of ORDER) {
    for (const p of plugins) {
      if ((p.stage || "enrichment") !== stage || !m) continue;
      try {
        m = p.run(m);
      } catch {}
    }
  }
  return m || null;
}
