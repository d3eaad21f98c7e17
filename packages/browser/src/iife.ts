import type { PageSnapshot } from "./page-context";
import type { LoadOptions } from "./public-api";
import { createTessera } from "./tessera";

/** What the inline snippet leaves on `window.tessera`: queued `[method, args, page, done]` calls and its load call. */
type Stub = [string, unknown[], PageSnapshot, () => void][] & { writeKey?: string; loadOptions?: LoadOptions };

// The script-tag build: take over from the snippet's stub, replaying its calls with the page they were made on.
// A real instance already in place means the bundle was included twice: leave it alone.
try {
  const w = window as unknown as { tessera?: Stub | object };
  const stub = w.tessera;
  if (!stub || Array.isArray(stub)) {
    const src = (document.currentScript as HTMLScriptElement | null)?.src;
    const t = createTessera(src ? new URL(src).origin : location.origin);
    w.tessera = Object.assign(t, { invoked: true });
    const queued = (stub || []) as Stub;
    if (queued.writeKey) t.load(queued.writeKey, queued.loadOptions);
    for (const c of queued) t.replay(c as never);
  }
} catch {}
