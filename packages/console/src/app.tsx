/**
 * The console (DESIGN §11): signed out, the sign-in form; signed in, the navigation and the page the URL names.
 * Every page lives under `/console/…`; the Worker answers each of those paths with the same shell.
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { SIGNED_OUT_EVENT } from "./api";
import { forgetDrafts, forgetDraftsElsewhere, hasKeptWork, keepOpenDrafts } from "./drafts";
import { usePageHeading } from "./page-heading";
import { DefinitionList } from "./pages/definition-list";
import { DefinitionPage } from "./pages/definition-page";
import { DestinationPage } from "./pages/destination-page";
import { Destinations } from "./pages/destinations";
import { LiveEvents } from "./pages/live-events";
import { NewDefinition } from "./pages/new-definition";
import { NewDestination } from "./pages/new-destination";
import { ProfilePage } from "./pages/profile-page";
import { ProfileSearch } from "./pages/profile-search";
import { SignIn } from "./pages/sign-in";
import { Sources } from "./pages/sources";
import { forgetKey, storedKey } from "./session";

const NAV = [
  ["/console/profiles", "Profiles"],
  ["/console/audiences", "Audiences"],
  ["/console/computed-traits", "Computed traits"],
  ["/console/destinations", "Destinations"],
  ["/console/sources", "Sources"],
  ["/console/live", "Live events"],
] as const;

export function App() {
  const [signedIn, setSignedIn] = useState(storedKey() !== null);
  const [signedOutReason, setSignedOutReason] = useState<string>();
  // Signed in through the form (not a reload with the key kept): focus goes to the page's heading.
  const [arrived, setArrived] = useState(false);
  useEffect(() => {
    const onSignedOut = (e: Event) => {
      // Dispatched while the page is still drawn: its forms' drafts can still be read.
      keepOpenDrafts();
      setSignedOutReason((e as CustomEvent<string>).detail);
      setSignedIn(false);
    };
    window.addEventListener(SIGNED_OUT_EVENT, onSignedOut);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, onSignedOut);
  }, []);
  if (!signedIn) {
    const reason =
      signedOutReason && hasKeptWork()
        ? `${signedOutReason} Sign in again to carry on: this page and what you typed are kept.`
        : signedOutReason;
    return (
      <SignIn
        reason={reason}
        onSignedIn={() => {
          setArrived(true);
          setSignedIn(true);
        }}
      />
    );
  }
  return (
    <LocationProvider scope="/console">
      <Shell
        focusFirst={arrived}
        onSignOut={() => {
          forgetKey();
          forgetDrafts();
          setSignedOutReason(undefined);
          setSignedIn(false);
        }}
      />
    </LocationProvider>
  );
}

function Shell({ onSignOut, focusFirst }: { onSignOut(): void; focusFirst: boolean }) {
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  usePageHeading(main, path, { fallback: sectionOf(path), focusFirst });
  // Drafts kept at a sign-out belong to their page: once the user has gone elsewhere they are not coming back.
  useEffect(() => forgetDraftsElsewhere(location.pathname), [path]);
  return (
    <>
      {/* First in the tab order: past the header and its navigation to the page (the browser focuses the target). */}
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/console/profiles">
          Tessera
        </a>
        <nav aria-label="Console">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <NavLink href={href} label={label} />
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="quiet sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Router>
          <Route path="/console" component={ProfileSearch} />
          <Route path="/console/profiles" component={ProfileSearch} />
          <Route path="/console/profiles/:profile" component={ProfilePage} />
          <Route path="/console/audiences" component={AudienceList} />
          <Route path="/console/audiences/new" component={NewAudience} />
          <Route path="/console/audiences/:key" component={AudiencePage} />
          <Route path="/console/computed-traits" component={ComputedTraitList} />
          <Route path="/console/computed-traits/new" component={NewComputedTrait} />
          <Route path="/console/computed-traits/:key" component={ComputedTraitPage} />
          <Route path="/console/destinations" component={Destinations} />
          <Route path="/console/destinations/new" component={NewDestination} />
          <Route path="/console/destinations/:id" component={DestinationPage} />
          <Route path="/console/sources" component={Sources} />
          <Route path="/console/live" component={LiveEvents} />
          <Route default component={NotFound} />
        </Router>
      </main>
    </>
  );
}

const AudienceList = () => <DefinitionList kind="audiences" />;
const NewAudience = () => <NewDefinition kind="audiences" />;
const AudiencePage = () => <DefinitionPage kind="audiences" />;
const ComputedTraitList = () => <DefinitionList kind="computed-traits" />;
const NewComputedTrait = () => <NewDefinition kind="computed-traits" />;
const ComputedTraitPage = () => <DefinitionPage kind="computed-traits" />;

/** The section a path is in, named as the navigation names it: the title until the page draws its heading. */
function sectionOf(path: string): string {
  if (path === "/console") return "Profiles";
  return NAV.find(([href]) => path === href || path.startsWith(`${href}/`))?.[1] ?? "Tessera console";
}

function NavLink({ href, label }: { href: string; label: string }) {
  // The router's path, not `location`'s: read from the router, the link is drawn again on every in-app navigation.
  const { path } = useLocation();
  const here = path === href || path.startsWith(`${href}/`);
  return (
    <a href={href} aria-current={here ? "page" : undefined}>
      {label}
    </a>
  );
}

function NotFound() {
  return (
    <>
      <h1>Not found</h1>
      <p>
        No console page at <code>{location.pathname}</code>. <a href="/console/profiles">Find a profile</a>.
      </p>
    </>
  );
}
