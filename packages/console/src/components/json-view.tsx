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

/** An ISO time as the browser's locale writes it, with the exact value on hover. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {new Date(iso).toLocaleString()}
    </time>
  );
}
