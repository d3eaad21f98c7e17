import { useEffect, useState } from "preact/hooks";
import { api, messageOf } from "../api";
import { ErrorNote } from "../components/notes";
import { titleOf } from "../page-heading";
import { storeKey } from "../session";

/**
 * The secret key is checked with a cheap read before it is kept: a wrong key says so here, with the API's reason,
 * and stays in the field to be corrected.
 */
export function SignIn({ reason, onSignedIn }: { reason?: string; onSignedIn(): void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | undefined>(reason ? `Signed out: ${reason}` : undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = titleOf("Sign in");
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) return setError("Enter the workspace's secret key (sk_…).");
    setBusy(true);
    try {
      await api("/v1/sources", { key: trimmed });
      storeKey(trimmed);
      onSignedIn();
    } catch (err) {
      setError(`That secret key was not accepted. ${messageOf(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>Tessera console</h1>
      <form onSubmit={submit}>
        <label for="secret-key">Secret key</label>
        <input
          id="secret-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="sk_…"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorNote error={error} />
        <p class="muted">
          The key stays in this tab (session storage) and is sent only to this server. Create one with{" "}
          <code>POST /v1/secret-keys</code>; in local dev it is <code>sk_dev</code>.
        </p>
      </form>
    </main>
  );
}
