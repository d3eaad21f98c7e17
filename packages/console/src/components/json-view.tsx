/**
 * A JSON value, indented, for events and messages the user expands. It may scroll, so it takes keyboard focus
 * (a keyboard user must be able to scroll it too).
 */
export function JsonView({ value }: { value: unknown }) {
  return <CodeBlock text={JSON.stringify(value, null, 2)} />;
}

export function CodeBlock({ text }: { text: string }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard (WCAG 2.1.1)
    <pre class="json" tabIndex={0}>
      {text}
    </pre>
  );
}

/** An ISO time as the browser's locale writes it, with the exact value on hover; `short`: see {@link shortTime}. */
export function Time({ iso, short = false }: { iso: string | null | undefined; short?: boolean }) {
  if (!iso) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {short ? shortTime(iso) : new Date(iso).toLocaleString()}
    </time>
  );
}

/** "14:05" today, with the date when it is another day (a time soon to come, as a pause's end). */
export function shortTime(iso: string): string {
  const at = new Date(iso);
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return at.toDateString() === new Date().toDateString() ? time : `${at.toLocaleDateString()} ${time}`;
}
