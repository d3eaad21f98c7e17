// The inline snippet, readable. `npm run build` minifies it to dist/snippet.min.js; paste that into <head>, then
//   tessera.load("YOUR_WRITE_KEY", { apiHost: "https://collect.example.com" }); tessera.page();
// Calls made before the SDK arrives are queued as [method, args, page] with the page as it was at that moment.
((w, d) => {
  const t = w.tessera || [];
  w.tessera = t;
  if (t.invoked) {
    w.console?.error("Tessera snippet included twice.");
    return;
  }
  t.invoked = true;
  for (const m of "track identify page group alias reset ready setConsent flush use".split(" ")) {
    t[m] = (...args) => {
      const l = location;
      const c = d.querySelector("link[rel=canonical]");
      // ready() and flush() promise what the SDK's do: settled once it has loaded and run them.
      const p = new Promise((done) =>
        t.push([
          m,
          args,
          { url: l.href, path: l.pathname, search: l.search, title: d.title, referrer: d.referrer, canonical: c?.href },
          done,
        ]),
      );
      return m === "ready" || m === "flush" ? p : t;
    };
  }
  // Nobody is known before the SDK loads (the SDK's user() says the same until then).
  t.user = () => {};
  t.load = (key, options = {}) => {
    const s = d.createElement("script");
    t.writeKey = key;
    t.loadOptions = options;
    s.async = true;
    s.src = `${options.cdn || options.apiHost || ""}/sdk/tessera.min.js`;
    d.head.appendChild(s);
  };
})(window, document);
