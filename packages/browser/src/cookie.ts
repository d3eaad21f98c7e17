const YEAR = 31_536_000;
let probed: Record<string, string> = {};

/** Reads a cookie, or undefined. */
export function readCookie(name: string): string | undefined {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return hit && decodeURIComponent(hit.slice(name.length + 1));
}

/** Writes (or with `null`, deletes) a first-party cookie: 1 year, SameSite=Lax, Secure on https. */
export function writeCookie(name: string, value: string | null, domain: string): void {
  // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is async and missing in Safari and Firefox.
  document.cookie =
    `${name}=${value == null ? "" : encodeURIComponent(value)}; Max-Age=${value == null ? 0 : YEAR}; Path=/; SameSite=Lax` +
    (domain ? `; Domain=${domain}` : "") +
    (location.protocol === "https:" ? "; Secure" : "");
}

/**
 * The broadest domain this page may set cookies on (`shop.example.co.uk` → `example.co.uk`), found by trying
 * from the top down: browsers refuse public suffixes, so the first level that sticks is the registrable domain.
 * Memoised per hostname so the answer never flips between calls (segmentio/analytics-next#706).
 * Empty (host-only) for localhost and IP addresses.
 */
export function cookieDomain(): string {
  const host = location.hostname;
  if (probed[host] === undefined) {
    probed = { [host]: "" };
    const parts = host.split(".");
    if (!/^[\d.]+$|:/.test(host)) {
      for (let i = parts.length - 2; i >= 0; i--) {
        const candidate = parts.slice(i).join(".");
        writeCookie("tessera_tld", "1", candidate);
        if (readCookie("tessera_tld")) {
          writeCookie("tessera_tld", null, candidate);
          probed[host] = candidate;
          break;
        }
      }
    }
  }
  return probed[host];
}
