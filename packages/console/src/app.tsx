/**
 * The console (DESIGN §11): signed out, the sign-in form; signed in, the navigation and the page the URL names.
 * Every page lives under `/console/…`; the Worker answers each of those paths with the same shell.
 */

import { useEffect, useState } from "preact/hooks";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { SIGNED_OUT_EVENT } from "./api";
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
  useEffect(() => {
    const onSignedOut = (e: Event) => {
      setSignedOutReason((e as CustomEvent<string>).detail);
      setSignedIn(false);
    };
    window.addEventListener(SIGNED_OUT_EVENT, onSignedOut);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, onSignedOut);
  }, []);
  if (!signedIn) return <SignIn reason={signedOutReason} onSignedIn={() => setSignedIn(true)} />;
  return (
    <LocationProvider scope="/console">
      <Shell
        onSignOut={() => {
          forgetKey();
          setSignedOutReason(undefined);
          setSignedIn(false);
        }}
      />
    </LocationProvider>
  );
}

function Shell({ onSignOut }: { onSignOut(): void }) {
  return (
    <>
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
      <main>
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
