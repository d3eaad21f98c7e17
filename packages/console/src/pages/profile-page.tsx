import type { MergeUndone, Profile, ProfileErased, ProfileMerges } from "@tessera/protocol";
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { api } from "../api";
import { ConfirmAction } from "../components/confirm-action";
import { IdentityGraph } from "../components/identity-graph";
import { JsonView, Time } from "../components/json-view";
import { ErrorNote, Loading } from "../components/notes";
import { Table } from "../components/table";
import { profileApi, profileHref } from "../profile-refs";
import { personName } from "../profiles/deletion-summary";
import { useApi } from "../use-api";
import { EventTimeline } from "./event-timeline";

export function ProfilePage() {
  const ref = useRoute().params.profile ?? "";
  const profile = useApi<Profile>(profileApi(ref));
  // Read beside the profile, not after it: the API resolves the same ref, and the page draws sooner.
  const merges = useApi<ProfileMerges>(profileApi(ref, "/merges"));
  // The graph draws a profile with its own journal: while either is read again, the last matching pair stays.
  const graph = useRef<{ profile: Profile; merges: ProfileMerges } | undefined>(undefined);
  if (profile.data && merges.data && !profile.loading && !merges.loading) {
    graph.current = { profile: profile.data, merges: merges.data };
  }
  const [undone, setUndone] = useState<{ ref: string; result: MergeUndone }>();
  // Bumped by an undo: the events that went back leave the timeline, which reads its first page again.
  const [undoRound, setUndoRound] = useState(0);
  const onUndone = (result: MergeUndone) => {
    setUndone({ ref, result });
    setUndoRound((r) => r + 1);
    // The ref may now name the restored profile rather than the survivor (its identifiers went back): read both again.
    profile.reload();
    merges.reload();
  };
  const p = profile.data;
  if (!p) {
    return profile.error ? (
      <>
        <h1>Profile</h1>
        <ErrorNote error={profile.error} />
        <a href="/console/profiles">Find another profile</a>
      </>
    ) : (
      <Loading what="the profile" />
    );
  }
  return (
    <>
      <h1>
        Profile <code>{p.id}</code>
      </h1>
      {/* A failed read again (after an undo) leaves the profile as last read. */}
      <ErrorNote error={profile.error} />
      <p class="muted">
        First seen <Time iso={p.first_seen} />, last seen <Time iso={p.last_seen} />, {p.event_count} events.
      </p>
      <section aria-labelledby="h-traits">
        <h2 id="h-traits">Traits</h2>
        <KeyValues values={p.traits} empty="No traits yet." />
      </section>
      <section aria-labelledby="h-computed">
        <h2 id="h-computed">Computed traits</h2>
        <KeyValues values={p.computed} empty="No computed traits." />
      </section>
      <section aria-labelledby="h-audiences">
        <h2 id="h-audiences">Audiences</h2>
        {p.audiences.length === 0 ? (
          <p class="muted">In no audience.</p>
        ) : (
          <Table
            rows={p.audiences}
            rowKey={(a) => a.key}
            columns={[
              { header: "Audience", cell: (a) => <a href={`/console/audiences/${a.key}`}>{a.key}</a> },
              { header: "Member since", cell: (a) => <Time iso={a.since} /> },
            ]}
          />
        )}
      </section>
      <section aria-labelledby="h-identifiers">
        <h2 id="h-identifiers">Identifiers</h2>
        <Table
          rows={p.identifiers}
          rowKey={(i) => `${i.type}:${i.value}`}
          columns={[
            { header: "Type", cell: (i) => i.type },
            { header: "Value", cell: (i) => <code>{i.value}</code> },
            { header: "First seen", cell: (i) => <Time iso={i.first_seen} /> },
          ]}
        />
      </section>
      <section aria-labelledby="h-graph" aria-busy={profile.loading || merges.loading}>
        <h2 id="h-graph">Identity graph</h2>
        <UndoneNote result={undone?.ref === ref ? undone.result : undefined} />
        <ErrorNote error={merges.error} />
        {graph.current ? (
          <IdentityGraph profile={graph.current.profile} merges={graph.current.merges} onUndone={onUndone} />
        ) : (
          <Loading what="the merge journal" />
        )}
      </section>
      {/* Above the timeline, which loads more as its end scrolls into view: below it, the button would move away
          from a pointer on its way to it, and a long history would keep it out of reach. */}
      <DeleteProfile profile={p} />
      <section aria-labelledby="h-events">
        <h2 id="h-events">Events</h2>
        <EventTimeline key={`${p.id}:${undoRound}`} profileId={p.id} />
      </section>
    </>
  );
}

/**
 * What an undo did, naming both profiles with links: whichever of them this page shows now (its ref may have gone
 * back with the restored profile), the other is one step away. Focused when it appears, since the button that
 * opened the dialog goes with the entry it undid.
 */
function UndoneNote({ result }: { result: MergeUndone | undefined }) {
  const note = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result) note.current?.focus();
  }, [result]);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return (
    <div role="status" class="status ok" tabIndex={-1} ref={note}>
      {result ? (
        <>
          Merge undone: <a href={profileHref(result.restored_profile)}>{result.restored_profile}</a> is its own profile
          again ({plural(result.identifiers, "identifier")} and {plural(result.events, "event")} went back to it);{" "}
          <a href={profileHref(result.survivor)}>{result.survivor}</a> keeps the rest.
        </>
      ) : null}
    </div>
  );
}

function KeyValues({ values, empty }: { values: Record<string, unknown>; empty: string }) {
  const entries = Object.entries(values);
  if (entries.length === 0) return <p class="muted">{empty}</p>;
  return (
    <dl class="kv">
      {entries.map(([key, value]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>{typeof value === "object" && value !== null ? <JsonView value={value} /> : String(value)}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * GDPR delete (DESIGN §5): irreversible, so it asks first, in a modal dialog naming the person. The API answers
 * with the erase job it started; the search page follows that job until it is done.
 */
function DeleteProfile({ profile }: { profile: Profile }) {
  const { route } = useLocation();
  const erase = async () => {
    const erased = await api<ProfileErased>(profileApi(profile.id), { method: "DELETE" });
    route(`/console/profiles?deletion=${encodeURIComponent(erased.deletion_id)}`);
  };
  return (
    <section aria-labelledby="h-delete" class="danger-zone">
      <h2 id="h-delete">Delete (GDPR)</h2>
      <p>
        Erases this profile, the profiles merged into it, their events and memberships, tells destinations to delete the
        contact, and drops later events carrying its identifiers.
      </p>
      <ConfirmAction
        label="Delete profile"
        question={`Delete ${personName(profile)} (${profile.id}) for good?`}
        confirm="Delete for good"
        danger
        onConfirm={erase}
      >
        <p>This cannot be undone.</p>
      </ConfirmAction>
    </section>
  );
}
