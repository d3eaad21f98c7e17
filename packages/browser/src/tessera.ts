import { Engine, KEYS, warn } from "@tessera/core";
import { cookieDomain } from "./cookie";
import { crossTabLock, whenAlone } from "./cross-tab-lock";
import { beacon, fetchTransport } from "./fetch-transport";
import { trackHistory } from "./history-tracking";
import { idbStorage } from "./idb-storage";
import { browserKeyValue } from "./identity-store";
import { type PageSnapshot, pageContext, pageProperties, snapshotPage } from "./page-context";
import { onPageHide } from "./page-hide";
import type { CallOptions, ConsentState, JsonObject, LoadOptions, Plugin, Tessera } from "./public-api";
import { fetchServerId } from "./server-id";

export const VERSION = "0.1.0";

/** `fn` as a callback the page gave us: called at most once, and what it throws stays out of the SDK. */
function guarded(fn: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    try {
      fn();
    } catch (err) {
      warn(err);
    }
  };
}

type Method = "track" | "identify" | "page" | "group" | "alias" | "reset" | "setConsent" | "use";
/** A call as the snippet queues it: with the page it was made on, and for ready/flush its promise's resolver. */
type Call = [Method, unknown[], PageSnapshot?, (() => void)?];

/**
 * Makes an SDK instance. Calls before `load` are held with the page they were made on, then replayed in order.
 *
 * @example
 * const tessera = createTessera();
 * tessera.load("wk_live_…", { apiHost: "https://collect.example.com" });
 * tessera.track("Signed Up", { plan: "pro" });
 */
export function createTessera(defaultHost = location.origin): Tessera & { replay(call: Call): void } {
  let engine: Engine | undefined;
  let loaded = false;
  let spaReferrer: string | undefined;
  let callPage: PageSnapshot | undefined;
  const held: Call[] = [];
  let started!: () => void;
  const isReady = new Promise<void>((resolve) => {
    started = resolve;
  });
  const now = () => callPage || snapshotPage(spaReferrer);
  /** Talks to the server-set id cookie (`idEndpoint`), once loaded with one. */
  let serverId: ((id: string, mode?: "replace" | "forget") => Promise<string | undefined>) | undefined;
  /** Our id must win over the server's: stored before this page, or made by reset() or identify() of another user. */
  let known = false;

  /** A new anonymous id replaced the previous person's: ours wins from now on. */
  const rotated = (e: Engine) => {
    known = true;
    // The server's cookie still holds the previous person's id: replace it, or a later load (or ITP wipe) brings it back.
    if (e.consent.state === "granted") void serverId?.(e.user().anonymousId, "replace");
  };

  const methods: Record<Method, (e: Engine, ...a: never[]) => void> = {
    track: (e, event: string, properties?: JsonObject, o?: CallOptions) => e.track(event, properties, o),
    identify: (e, id: string | JsonObject | null, traits?: JsonObject, o?: CallOptions) => {
      const was = e.user().anonymousId;
      if (id && typeof id === "object") e.identify(null, id, traits);
      else e.identify(id, traits, o);
      // Another user than the one identified: a new anonymous id, as reset() makes.
      if (e.user().anonymousId !== was) rotated(e);
    },
    page: (e, ...a: unknown[]) => {
      // Segment's page(category?, name?, properties?, options?): with a second string, the first is the category.
      const category = typeof a[1] === "string" ? (a.shift() as string) : null;
      if (a[0] && typeof a[0] === "object") a.unshift(null);
      const [name, properties, o] = a as [string | null, JsonObject?, CallOptions?];
      const p = pageProperties(now());
      if (name) p.name = name;
      if (category) p.category = category;
      e.page(name, { ...p, ...properties }, o, category);
    },
    // Without an id, analytics.js's group() reads the current group: nothing to send (not a groupId "undefined").
    group: (e, id: string, traits?: JsonObject, o?: CallOptions) => id != null && e.group(id, traits, o),
    alias: (e, id: string, previous?: string, o?: CallOptions) => e.alias(id, previous, o),
    reset: (e) => {
      e.reset();
      rotated(e);
    },
    setConsent: (e, state: ConsentState, categoryPreferences?: Record<string, boolean>) =>
      void e.setConsent({ state, categoryPreferences }),
    use: (e, plugin: Plugin) => e.use(plugin),
  };

  const call = ([method, args, page]: Call) => {
    if (!engine) {
      held.push([method, args, page || now()]);
      return;
    }
    callPage = page;
    // analytics.js's trailing callback: called once the call is delivered, or after 300 ms at the latest, so a link
    // whose click handler navigates in it (`track("Link Clicked", {}, {}, go)`) neither loses the event nor hangs.
    const callback = args[args.length - 1];
    const done = typeof callback === "function" && guarded(callback as () => void);
    if (done) {
      args = args.slice(0, -1);
      setTimeout(done, 300);
    }
    try {
      (methods[method] as (e: Engine, ...a: unknown[]) => void)(engine, ...args);
    } catch (err) {
      warn(err);
    }
    if (done) void engine.flush().then(done);
    callPage = undefined;
  };

  const api = {
    replay: (c: Call) => {
      const m = c[0] as string;
      if (m === "ready" || m === "flush") void api[m](c[1][0] as () => void).then(c[3]);
      else call(c);
    },
    load(writeKey: string, options: LoadOptions = {}) {
      if (loaded) return;
      loaded = true;
      try {
        const o = options;
        const apiHost = (o.apiHost || defaultHost).replace(/\/$/, "");
        const kv = browserKeyValue(o.cookieDomain);
        const e = new Engine({
          ...o,
          writeKey,
          apiHost,
          transport: fetchTransport,
          storage: (existing) => idbStorage(writeKey, existing),
          kv,
          lock: crossTabLock(`tessera:${writeKey}`),
          // A fresh id the server answered with the visitor's (see `exchange`), whichever tab asked.
          renamedId: () => {
            const [from, to] = (kv.fresh(KEYS.idExchange) || "").split(" ");
            return to && to !== from ? [from, to] : undefined;
          },
          context: () => pageContext(now()),
          library: { name: "tessera.js", version: VERSION },
          isOnline: () => navigator.onLine !== false,
          onConsent: (d) => {
            kv.persist(d.state === "granted");
            if (d.state === "denied") {
              kv.forget();
              void serverId?.("", "forget");
            } else if (d.state === "granted") void exchange();
          },
        });
        kv.persist(!o.requireConsent);
        for (const p of o.plugins || []) e.use(p);
        addEventListener("online", () => void e.flush());
        onPageHide(() => e.beacon((body) => beacon(`${apiHost}/v1/batch`, body), 60 * 1024));
        if (o.trackHistory) {
          trackHistory((previous) => {
            spaReferrer = previous;
            call(["page", []]);
          });
        }
        known = !!kv.get(KEYS.anonymousId);
        if (o.idEndpoint) {
          const endpoint = o.idEndpoint === true ? `${apiHost}/v1/id` : o.idEndpoint;
          serverId = (id, mode) => fetchServerId(endpoint, id, o.cookieDomain ?? cookieDomain(), mode);
        }
        // Once per page, when ids may be stored (at load, or when consent is first granted). The id stored here is the
        // authority (reset() rotates it) and the server's cookie its backup: a stored id replaces the cookie's. Without
        // one (ITP wiped storage) the cookie's comes back: calls are queued (stored) at once with a fresh id, which the
        // answer replaces, only if still current (another tab's or this page's reset() may have set a newer one).
        // Sending waits for the answer, at most 1.5 s: the endpoint may never answer.
        // Tabs take turns, noting each answer for the others. A minted id is noted at once, before its turn: a tab that
        // loads meanwhile finds it stored and must not take it for the visitor's. Whoever holds a minted id takes the
        // answer a tab got for it, or asks for one without replacing: replacing would overwrite the server's id, the
        // visitor's, with the fresh one. (Not "the record changed while we waited": Chrome can grant the turn before
        // the other tab's localStorage write reaches this one.)
        let exchanged = false;
        const exchange = () => {
          if (!serverId || exchanged) return;
          exchanged = true;
          const ask = serverId;
          const id = e.user().anonymousId;
          if (!known) kv.set(KEYS.idExchange, id);
          const swap = whenAlone(`tessera-id:${writeKey}`, async () => {
            const [minted, answer] = (kv.fresh(KEYS.idExchange) || "").split(" ");
            if (minted === id && answer) return answer;
            // Changed while we waited (a reset(), which tells the server itself): ours must not replace it there.
            if (kv.fresh(KEYS.anonymousId) !== id) return;
            const s = await ask(id, minted === id ? undefined : "replace");
            kv.set(KEYS.idExchange, `${id} ${s || ""}`);
            return s;
          }).then((s) => s && s !== id && kv.fill(KEYS.anonymousId, s, id) && e.renameAnonymousId(id, s));
          return e.hold(Promise.race([swap, new Promise((r) => setTimeout(r, 1500))]));
        };
        engine = e;
        const settled = o.requireConsent ? undefined : exchange();
        for (const c of held.splice(0)) call(c);
        void e.flush();
        void Promise.resolve(settled).then(started);
      } catch (err) {
        warn(err);
      }
    },
    ready: (callback?: () => void) => isReady.then(callback && guarded(callback)),
    user: () => engine?.user(),
    flush: () => isReady.then(() => engine!.flush()),
  } as Tessera & { replay(call: Call): void };

  for (const m of Object.keys(methods) as Method[]) {
    (api as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => call([m, args]);
  }
  return api;
}
