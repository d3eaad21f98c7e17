/** How the console reports: an API error where it happened, a confirmation where it was asked for. */

export function ErrorNote({ error }: { error: string | undefined }) {
  if (!error) return null;
  return (
    <p role="alert" class="error">
      {error}
    </p>
  );
}

export function StatusNote({ text }: { text: string | undefined }) {
  return (
    <p role="status" class="status">
      {text ?? ""}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return <p class="muted">Loading {what}…</p>;
}
