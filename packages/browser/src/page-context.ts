import type { JsonObject } from "./public-api";

/** The page as the snippet saw it when a call was queued (Segment's "buffered page context"). */
export interface PageSnapshot {
  /** `location.href`, hash included (the snippet's carry it too): the context and page properties drop it. */
  url: string;
  path: string;
  search: string;
  title: string;
  referrer: string;
  canonical?: string | null;
}

const CLICK_IDS = ["gclid", "fbclid", "msclkid", "ttclid", "li_fat_id", "wbraid", "gbraid", "dclid", "twclid"];

/** The page right now; `referrer` is overridden after SPA navigations (the previous in-app URL). */
export function snapshotPage(referrer = document.referrer): PageSnapshot {
  const l = location;
  return {
    url: l.href,
    path: l.pathname,
    search: l.search,
    title: document.title,
    referrer,
    canonical: document.querySelector<HTMLLinkElement>("link[rel=canonical]")?.href,
  };
}

/**
 * The context of a message made on `page`: page fields, `campaign` from `utm_*` (utm_campaign → name) and the
 * common ad click ids, user agent with low-entropy client hints, locale, timezone and screen.
 */
export function pageContext(page: PageSnapshot): JsonObject {
  const ctx: JsonObject = {
    ...device(),
    page: { ...page, url: page.url.split("#")[0], canonical: page.canonical || null },
    screen: { width: screen.width, height: screen.height, density: devicePixelRatio },
  };
  const campaign: JsonObject = {};
  new URLSearchParams(page.search).forEach((value, key) => {
    if (key.startsWith("utm_")) campaign[key === "utm_campaign" ? "name" : key.slice(4)] = value;
    else if (CLICK_IDS.includes(key)) campaign[key] = value;
  });
  for (const _ in campaign) {
    ctx.campaign = campaign;
    break;
  }
  return ctx;
}

let fixed: JsonObject | undefined;

/** What does not change while the page lives (building an Intl formatter per event is not free). */
function device(): JsonObject {
  if (!fixed) {
    fixed = { userAgent: navigator.userAgent, locale: navigator.language };
    try {
      fixed.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch {}
    const hints = (navigator as Navigator & { userAgentData?: { toJSON(): JsonObject } }).userAgentData;
    if (hints) fixed.userAgentData = hints.toJSON();
  }
  return fixed;
}

/** The properties of a page call: Segment's automatic ones, overridable by the caller's. The url as in the context. */
export function pageProperties(page: PageSnapshot): JsonObject {
  const { canonical, ...properties } = page;
  return { ...properties, url: page.url.split("#")[0] };
}
