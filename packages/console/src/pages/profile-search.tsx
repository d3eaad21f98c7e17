import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, api, messageOf } from "../api";
import { ErrorNote } from "../components/notes";
import { candidateRefs, profileApi, profileHref } from "../profile-refs";
import { DeletionStatus } from "../profiles/deletion-status";
import { isDeletionId } from "../profiles/deletion-summary";

/** Search by any identifier; the first candidate the API knows opens. */
export function ProfileSearch() {
  const { route, query } = useLocation();
  const [text, setText] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const search = async (e: Event) => {
    e.preventDefault();
    const refs = candidateRefs(text);
    if (refs.length === 0) return setError("Type an identifier: jane@example.com, user_id:42 or prf_…");
    setBusy(true);
    setError(undefined);
    try {
      for (const ref of refs) {
        try {
          const found = await api<{ id: string }>(profileApi(ref));
          return route(profileHref(found.id));
        } catch (err) {
          // A guess the value cannot be (a user id of digits read as a phone without a country code: 400) is not a
          // match either; only the one ref the user wrote names its own problem.
          const notThis = err instanceof ApiError && (err.status === 404 || (err.status === 400 && refs.length > 1));
          if (!notThis) throw err;
        }
      }
      setError(`No profile matches ${text.trim()} (tried ${refs.join(", ")}).`);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <h1>Profiles</h1>
      {/* Only a deletion id is read from the URL: the page says what the API says about it, never the URL's words. */}
      {isDeletionId(query.deletion) ? <DeletionStatus id={query.deletion} /> : null}
      <form class="row" onSubmit={search}>
        <label for="profile-search">Find a profile</label>
        <input
          id="profile-search"
          type="search"
          placeholder="jane@example.com, user_id:42, prf_…"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          Find
        </button>
      </form>
      <ErrorNote error={error} />
      <p class="muted">
        Any identifier: an email, a phone, <code>user_id:42</code>, <code>anonymous_id:…</code>, a custom{" "}
        <code>type:value</code>, or a profile id.
      </p>
    </>
  );
}
